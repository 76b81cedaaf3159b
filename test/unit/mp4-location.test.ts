import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  findLocationBoxes,
  MAX_MOOV_BYTES,
  mp4LocationStripper,
  Mp4LocationRefusal,
  type ReadBytes,
} from '../../src/video/mp4-location.js';
import { makeH264Mp4, makeMp4WithLocation } from '../helpers/videos.js';

const run = promisify(execFile);

/** A reader over `bytes` that refuses to read past their end, and counts what it read. */
function readerOf(bytes: Buffer): ReadBytes & { read: number } {
  const reader = async (start: number, length: number) => {
    if (start < 0 || length < 0 || start + length > bytes.length)
      throw new Error(`read past the end: ${start}+${length}`);
    reader.read += length;
    return bytes.subarray(start, start + length);
  };
  reader.read = 0;
  return reader;
}

/** The bytes [start, end] of `bytes` through the stripper, in chunks of `chunk` bytes. */
async function stripped(bytes: Buffer, start = 0, end = bytes.length - 1, chunk = 65536): Promise<Buffer> {
  const offsets = await findLocationBoxes(readerOf(bytes), bytes.length);
  const part = bytes.subarray(start, end + 1);
  const chunks: Buffer[] = [];
  for (let at = 0; at < part.length; at += chunk) chunks.push(part.subarray(at, at + chunk));
  return buffer(Readable.from(chunks).pipe(mp4LocationStripper(offsets, start)));
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pixa-mp4-location-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

/** What exiftool and ffprobe read of `bytes`: GPS tags, and the duration in seconds. */
async function inspect(bytes: Buffer, name: string): Promise<{ gps: string; duration: number }> {
  const file = path.join(dir, name);
  await writeFile(file, bytes);
  const exif = await run('exiftool', ['-a', '-G1', '-s', file]);
  const gps = exif.stdout
    .split('\n')
    .filter((line) => /^\[\w+\]\s+\S*(gps|location)/i.test(line))
    .join('\n');
  const probe = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file]);
  return { gps, duration: Number(probe.stdout.trim()) };
}

describe('MP4 location removal', () => {
  for (const apple of [false, true]) {
    const label = apple ? 'MOV with udta/loci and Apple meta keys' : 'MP4 with udta/©xyz';
    it(`${label} › location gone, same length, ffprobe still reads it and its duration`, async () => {
      const clip = await makeMp4WithLocation({ apple });
      const before = await inspect(clip, `before${apple ? '.mov' : '.mp4'}`);
      expect(before.gps).toMatch(/48 deg 51/);

      const after = await stripped(clip);
      expect(after.length).toBe(clip.length);
      const seen = await inspect(after, `after${apple ? '.mov' : '.mp4'}`);
      expect(seen.gps).toBe('');
      expect(seen.duration).toBeCloseTo(before.duration, 2);
      // Only type fields changed: four bytes per renamed box.
      const changed = [...clip.keys()].filter((i) => clip[i] !== after[i]).length;
      expect(changed).toBeGreaterThan(0);
      expect(changed).toBeLessThanOrEqual(4 * (await findLocationBoxes(readerOf(clip), clip.length)).length);
    });
  }

  it('any range in any chunking › the same bytes as that range of the whole rewrite', async () => {
    const clip = await makeMp4WithLocation({ apple: true });
    const whole = await stripped(clip);
    const offsets = await findLocationBoxes(readerOf(clip), clip.length);
    expect(offsets.length).toBeGreaterThan(0);
    // Ranges that start and end inside a type field, and chunks that split one.
    const cuts = offsets.flatMap((o) => [o + 1, o + 2, o + 3]);
    for (const start of [0, ...cuts]) {
      for (const end of [...cuts, clip.length - 1].filter((e) => e >= start)) {
        for (const chunk of [1, 3, 7, 4096]) {
          if (chunk === 1 && end - start > 2000) continue;
          const part = await stripped(clip, start, end, chunk);
          expect(part.equals(whole.subarray(start, end + 1))).toBe(true);
        }
      }
    }
  });

  it('a clip without location › nothing to rename but metadata boxes, and it still plays', async () => {
    const clip = await makeH264Mp4();
    const after = await stripped(clip);
    const seen = await inspect(after, 'plain.mp4');
    expect(seen.duration).toBeGreaterThan(1.5);
  });

  it('reads the box headers and the moov, not the media data', async () => {
    const clip = await makeMp4WithLocation();
    const reader = readerOf(clip);
    await findLocationBoxes(reader, clip.length);
    const moovSize = clip.readUInt32BE(clip.indexOf('moov') - 4);
    // A few box headers of 16 bytes, then the moov whole.
    expect(reader.read).toBeLessThanOrEqual(moovSize + 8 * 16);
    expect(reader.read).toBeLessThan(clip.length / 2);
  });

  it('a moov larger than the bound › refused without reading it', async () => {
    const header = Buffer.alloc(16);
    header.writeUInt32BE(1, 0);
    header.write('moov', 4, 'latin1');
    header.writeBigUInt64BE(BigInt(MAX_MOOV_BYTES + 17), 8);
    const size = MAX_MOOV_BYTES + 17;
    const reader: ReadBytes = async (start, length) => {
      if (start === 0 && length <= 16) return header.subarray(0, length);
      throw new Error(`read ${start}+${length}`);
    };
    await expect(findLocationBoxes(reader, size)).rejects.toThrow(Mp4LocationRefusal);
  });

  it('truncated or garbage files › a refusal and never a read past the end', async () => {
    const clip = await makeMp4WithLocation({ apple: true });
    const moovAt = clip.indexOf('moov') - 4;
    let seed = 14;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const cases: Buffer[] = [
      Buffer.alloc(0),
      Buffer.alloc(7),
      Buffer.from('not a video at all, only text pretending to be one'),
      clip.subarray(0, moovAt + 20),
      clip.subarray(0, clip.length - 1),
    ];
    for (let i = 0; i < 300; i++) {
      const copy = Buffer.from(clip);
      // Corrupt a few bytes in the headers' region: sizes, types, the moov's children.
      const flips = 1 + Math.floor(random() * 4);
      for (let f = 0; f < flips; f++) {
        const at = random() < 0.5 ? Math.floor(random() * 64) : moovAt + Math.floor(random() * (clip.length - moovAt));
        copy[at] = Math.floor(random() * 256);
      }
      cases.push(random() < 0.2 ? copy.subarray(0, Math.floor(random() * copy.length)) : copy);
    }
    for (const bytes of cases) {
      try {
        const offsets = await findLocationBoxes(readerOf(bytes), bytes.length);
        // When it answers, every offset lies inside the file.
        for (const offset of offsets) expect(offset + 4).toBeLessThanOrEqual(bytes.length);
      } catch (error) {
        expect(error).toBeInstanceOf(Mp4LocationRefusal);
      }
    }
  });
});
