import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Whether ffmpeg is installed where Pixa looks by default. */
export const FFMPEG = '/usr/bin/ffmpeg';

/**
 * Runs ffmpeg with each list of `passes` in turn in a temp directory (`$OUT` is `name`, `$PREV` the
 * previous pass's output) and returns the last output's bytes.
 */
async function ffmpeg(name: string, ...passes: string[][]): Promise<Buffer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pixa-video-'));
  try {
    let previous = '';
    let out = '';
    for (const [index, args] of passes.entries()) {
      out = path.join(dir, `${index}-${name}`);
      const argv = args.map((a) => (a === '$OUT' ? out : a === '$PREV' ? previous : a));
      await run(FFMPEG, ['-hide_banner', '-loglevel', 'error', '-y', ...argv]);
      previous = out;
    }
    return await readFile(out);
  } catch (error) {
    throw new Error(`ffmpeg could not make ${name}: ${(error as Error).message}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const TEST_SOURCE = [
  '-f',
  'lavfi',
  '-i',
  'testsrc=duration=2:size=320x240:rate=25',
  '-f',
  'lavfi',
  '-i',
  'sine=duration=2',
];

/** 2 s of testsrc and a sine, 320×240, H.264/AAC MP4, recorded 2024-05-01 10:20:30 UTC. */
export const makeH264Mp4 = (): Promise<Buffer> =>
  ffmpeg('h264.mp4', [
    ...TEST_SOURCE,
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-pix_fmt',
    'yuv420p',
    '-c:a',
    'aac',
    '-shortest',
    '-metadata',
    'creation_time=2024-05-01T10:20:30Z',
    '$OUT',
  ]);

/** The same as HEVC in a QuickTime MOV (as an iPhone records), turned 90° by its display matrix. */
export const makeRotatedHevcMov = (): Promise<Buffer> =>
  ffmpeg(
    'hevc.mov',
    [
      ...TEST_SOURCE,
      '-c:v',
      'libx265',
      '-preset',
      'ultrafast',
      '-x265-params',
      'log-level=error',
      '-pix_fmt',
      'yuv420p',
      '-tag:v',
      'hvc1',
      '-c:a',
      'aac',
      '-shortest',
      '-f',
      'mov',
      '$OUT',
    ],
    [
      // The rotation is written when the streams are copied (ffmpeg 5 drops it when encoding).
      '-i',
      '$PREV',
      '-c',
      'copy',
      '-metadata:s:v:0',
      'rotate=90',
      '-metadata',
      'creation_time=2023-07-14T08:00:00Z',
      '-f',
      'mov',
      '$OUT',
    ],
  );

/** The same as VP9/Opus WebM. */
export const makeVp9Webm = (): Promise<Buffer> =>
  ffmpeg('vp9.webm', [
    ...TEST_SOURCE,
    '-c:v',
    'libvpx-vp9',
    '-deadline',
    'realtime',
    '-cpu-used',
    '8',
    '-b:v',
    '200k',
    '-c:a',
    'libopus',
    '-shortest',
    '$OUT',
  ]);

/** One frame of 10000×16 pixels: small on disk, far too wide to decode as a video. */
export const makeHugeFrameMp4 = (): Promise<Buffer> =>
  ffmpeg('wide.mp4', [
    '-f',
    'lavfi',
    '-i',
    'color=c=red:s=10000x16:d=0.2',
    '-c:v',
    'libx264',
    '-pix_fmt',
    'yuv420p',
    '$OUT',
  ]);

/** An MP4 whose movie header says it lasts `hours` hours (the frames inside last 2 s). */
export function withForgedDuration(mp4: Buffer, hours: number): Buffer {
  const copy = Buffer.from(mp4);
  const at = copy.indexOf('mvhd');
  if (at < 0 || copy[at + 4] !== 0) throw new Error('expected a version 0 mvhd box');
  const timescale = copy.readUInt32BE(at + 16);
  copy.writeUInt32BE(timescale * hours * 3600, at + 20);
  return copy;
}

/** An ISO-BMFF `ftyp` box claiming MP4, followed by bytes that are no video at all. */
export function fakeMp4(): Buffer {
  const ftyp = Buffer.alloc(24);
  ftyp.writeUInt32BE(24, 0);
  ftyp.write('ftypisom', 4, 'latin1');
  ftyp.writeUInt32BE(512, 12);
  ftyp.write('isomiso2', 16, 'latin1');
  return Buffer.concat([ftyp, Buffer.from('this is not a video, only text pretending to be one. '.repeat(200))]);
}

/** The place every clip with a location is recorded at (the Eiffel Tower), as ISO 6709. */
export const CLIP_LOCATION = '+48.8584+002.2945/';

/**
 * makeH264Mp4 recorded at CLIP_LOCATION: QuickTime's `moov/udta/©xyz`, and with `apple` (a MOV)
 * 3GPP's `udta/loci` and Apple's `moov/meta` key com.apple.quicktime.location.ISO6709, as iPhones
 * write it. `hevc` encodes HEVC instead (which browsers other than Safari play only from a copy).
 */
export const makeMp4WithLocation = (options: { apple?: boolean; hevc?: boolean } = {}): Promise<Buffer> =>
  ffmpeg(options.apple ? 'located.mov' : 'located.mp4', [
    ...TEST_SOURCE,
    ...(options.hevc
      ? ['-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error', '-tag:v', 'hvc1']
      : ['-c:v', 'libx264', '-preset', 'ultrafast']),
    '-pix_fmt',
    'yuv420p',
    '-c:a',
    'aac',
    '-shortest',
    '-metadata',
    `location=${CLIP_LOCATION}`,
    ...(options.apple
      ? [
          '-metadata',
          `com.apple.quicktime.location.ISO6709=${CLIP_LOCATION}`,
          '-movflags',
          'use_metadata_tags',
          '-f',
          'mov',
        ]
      : []),
    '$OUT',
  ]);
