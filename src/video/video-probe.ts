import { fileTypeFromFile } from 'file-type';

import { fileArg, runTool, ToolRunError, videoToolsAvailable } from './ffmpeg-runner.js';

/** The containers Pixa takes as videos, by the media type their content is sniffed as. */
export const VIDEO_TYPES: ReadonlySet<string> = new Set(['video/mp4', 'video/quicktime', 'video/webm']);
/** The video codecs it takes, as ffprobe names them. */
const VIDEO_CODECS: ReadonlySet<string> = new Set(['h264', 'hevc', 'vp9', 'av1']);
/** Longer than this is refused: no phone records it, and a forged duration header says it too. */
export const MAX_VIDEO_DURATION_MS = 3 * 60 * 60 * 1000;
/** Largest frame side accepted (8K is 7680): a forged size would make every decode huge. */
export const MAX_VIDEO_SIDE = 8192;

export interface ProbedVideo {
  mediaType: string;
  /** ffprobe's name: h264, hevc, vp9 or av1. */
  codec: string;
  /** What a browser's canPlayType is asked, e.g. `video/mp4; codecs="hvc1.1.6.L93.B0"`. */
  playbackType: string;
  durationMs: number;
  /** As displayed, after the rotation. */
  width: number;
  height: number;
  /** Degrees the player turns the frames: 0, 90, 180 or 270. */
  rotation: number;
  /** The container's creation_time, epoch ms, if it has a believable one. */
  takenAt: number | undefined;
}

export type VideoRejection =
  | { reason: 'unsupported'; detail: string }
  | { reason: 'no_tools'; detail: string }
  | { reason: 'invalid'; detail: string }
  | { reason: 'too_large'; detail: string };

export class VideoRejectedError extends Error {
  constructor(readonly rejection: VideoRejection) {
    super(rejection.detail);
    this.name = 'VideoRejectedError';
  }
}

/** Whether a file's content is one of the video containers Pixa takes (sniffed, never by name). */
export async function sniffVideoType(file: string): Promise<string | undefined> {
  const type = await fileTypeFromFile(file);
  return type && VIDEO_TYPES.has(type.mime) ? type.mime : undefined;
}

/**
 * The first bytes of a file say whether it is a video container: an ISO-BMFF `ftyp` box whose brand
 * is not HEIF/AVIF's (those are photos), or an EBML header (WebM). Used to pick the upload's size
 * limit while the bytes arrive; the staged file is sniffed properly afterwards.
 */
export function looksLikeVideo(head: Buffer): boolean {
  if (head.length >= 4 && head.readUInt32BE(0) === 0x1a45dfa3) return true;
  if (head.length < 12 || head.toString('latin1', 4, 8) !== 'ftyp') return false;
  return !IMAGE_BRANDS.has(head.toString('latin1', 8, 12));
}

const IMAGE_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'mif1', 'mif2', 'msf1', 'avif', 'avis']);

interface FfprobeStream {
  codec_type?: string;
  codec_name?: string;
  profile?: string;
  level?: number;
  width?: number;
  height?: number;
  duration?: string;
  tags?: Record<string, string>;
  side_data_list?: { rotation?: number }[];
}

interface FfprobeOutput {
  streams?: FfprobeStream[];
  format?: { duration?: string; tags?: Record<string, string> };
}

/**
 * Reads a staged video's container and first video stream with ffprobe and refuses what Pixa will
 * not keep: another container or codec (415), a file ffprobe cannot read (400), a duration or frame
 * size beyond the limits (413). No frame is decoded here.
 */
export async function probeVideo(file: string, mediaType: string): Promise<ProbedVideo> {
  if (!(await videoToolsAvailable())) {
    throw new VideoRejectedError({
      reason: 'no_tools',
      detail:
        'is a video, and this server cannot take videos because ffmpeg is not installed. ' +
        'The administrator can install it (Debian/Ubuntu: apt-get install ffmpeg) or set PIXA_FFMPEG_PATH and PIXA_FFPROBE_PATH',
    });
  }
  let output: FfprobeOutput;
  try {
    const json = await runTool(
      'ffprobe',
      [
        '-v',
        'error',
        '-protocol_whitelist',
        'file,pipe',
        '-print_format',
        'json',
        '-show_format',
        '-show_streams',
        fileArg(file),
      ],
      { timeoutMs: 60_000 },
    );
    output = JSON.parse(json.toString('utf8')) as FfprobeOutput;
  } catch (error) {
    if (error instanceof ToolRunError || error instanceof SyntaxError) throw damaged();
    throw error;
  }
  const video = output.streams?.find((s) => s.codec_type === 'video');
  if (!video) throw damaged('has no video track that can be read');
  const codec = video.codec_name ?? 'unknown';
  if (!VIDEO_CODECS.has(codec)) {
    throw new VideoRejectedError({
      reason: 'unsupported',
      detail: `is a ${codec.toUpperCase()} video; Pixa accepts H.264, HEVC, VP9 and AV1`,
    });
  }
  const codedWidth = video.width ?? 0;
  const codedHeight = video.height ?? 0;
  if (codedWidth <= 0 || codedHeight <= 0) throw damaged('has no readable frame size');
  if (codedWidth > MAX_VIDEO_SIDE || codedHeight > MAX_VIDEO_SIDE) {
    throw new VideoRejectedError({
      reason: 'too_large',
      detail: `has frames of ${codedWidth}×${codedHeight} pixels, more than the ${MAX_VIDEO_SIDE} pixels per side Pixa accepts`,
    });
  }
  const seconds = Number(output.format?.duration ?? video.duration);
  if (!Number.isFinite(seconds) || seconds <= 0) throw damaged('has no readable duration');
  const durationMs = Math.round(seconds * 1000);
  if (durationMs > MAX_VIDEO_DURATION_MS) {
    throw new VideoRejectedError({
      reason: 'too_large',
      detail: `says it lasts ${formatHours(durationMs)}, longer than the ${formatHours(MAX_VIDEO_DURATION_MS)} Pixa accepts`,
    });
  }
  const rotation = rotationOf(video);
  const turned = rotation === 90 || rotation === 270;
  return {
    mediaType,
    codec,
    playbackType: playbackTypeOf(mediaType, video),
    durationMs,
    width: turned ? codedHeight : codedWidth,
    height: turned ? codedWidth : codedHeight,
    rotation,
    takenAt: creationTime(output.format?.tags?.creation_time ?? video.tags?.creation_time),
  };
}

const damaged = (detail = 'is damaged or incomplete and cannot be read as a video'): VideoRejectedError =>
  new VideoRejectedError({ reason: 'invalid', detail });

const formatHours = (ms: number): string =>
  `${(ms / 3_600_000).toLocaleString('en-US', { maximumFractionDigits: 1 })} hours`;

/** The display matrix's rotation, or the old `rotate` tag, as 0, 90, 180 or 270. */
function rotationOf(stream: FfprobeStream): number {
  const matrix = stream.side_data_list?.find((d) => typeof d.rotation === 'number')?.rotation;
  const degrees = matrix ?? Number(stream.tags?.rotate ?? 0);
  if (!Number.isFinite(degrees)) return 0;
  return (((Math.round(degrees / 90) * 90) % 360) + 360) % 360;
}

/** A creation time before 1900 (an unset clock writes 1904 or 1970) says nothing about when. */
function creationTime(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) && ms > Date.UTC(1971, 0, 1) ? ms : undefined;
}

/**
 * The type and RFC 6381 codec string a browser is asked about. MOV is asked as MP4: browsers that
 * play the codec play it from either box structure, and `video/quicktime` is unknown to most.
 */
function playbackTypeOf(mediaType: string, stream: FfprobeStream): string {
  const level = stream.level ?? 0;
  const profile = (stream.profile ?? '').toLowerCase();
  if (stream.codec_name === 'vp9') return `${containerOf(mediaType)}; codecs="vp09.00.10.08"`;
  if (stream.codec_name === 'av1') return `${containerOf(mediaType)}; codecs="av01.0.08M.08"`;
  if (stream.codec_name === 'hevc') {
    const main10 = profile.includes('10');
    return `video/mp4; codecs="hvc1.${main10 ? '2.4' : '1.6'}.L${level > 0 ? level : 93}.B0"`;
  }
  const idc = profile.includes('high') ? '64' : profile.includes('main') ? '4D' : '42';
  const levelHex = Math.max(10, Math.min(level || 30, 62))
    .toString(16)
    .toUpperCase()
    .padStart(2, '0');
  return `video/mp4; codecs="avc1.${idc}00${levelHex}"`;
}

const containerOf = (mediaType: string): string => (mediaType === 'video/webm' ? 'video/webm' : 'video/mp4');
