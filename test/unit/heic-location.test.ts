import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { readHeifMeta } from '../../src/image/heif-boxes.js';
import { heifLocationPatches, locationPatcher, type ReadFileBytes } from '../../src/image/location-strip.js';
import { exifOf, gridHeic, heifEncMissing } from '../helpers/heic.js';
import { makePhoto } from '../helpers/photos.js';

const run = promisify(execFile);

const readerOf =
  (bytes: Buffer): ReadFileBytes =>
  async (start, length) => {
    if (start < 0 || length < 0 || start + length > bytes.length)
      throw new Error(`read past the end: ${start}+${length}`);
    return bytes.subarray(start, start + length);
  };

/** The bytes [start, end] of `bytes` with the patches applied, streamed in chunks of `chunk` bytes. */
async function patched(bytes: Buffer, start: number, end: number, chunk: number): Promise<Buffer> {
  const patches = await heifLocationPatches(readerOf(bytes), bytes.length);
  if (!patches) throw new Error('refused');
  const part = bytes.subarray(start, end + 1);
  const chunks: Buffer[] = [];
  for (let at = 0; at < part.length; at += chunk) chunks.push(part.subarray(at, at + chunk));
  return buffer(Readable.from(chunks).pipe(locationPatcher(patches, start)));
}

describe.skipIf(heifEncMissing)(`HEIC location removal${heifEncMissing ? ` (skipped: ${heifEncMissing})` : ''}`, () => {
  let dir: string;
  let heic: Buffer;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pixa-heic-location-'));
    const photo = await makePhoto({ width: 600, height: 400, gps: true, takenAt: '2024:07:14 09:31:02' });
    heic = await gridHeic(photo, 512, { exif: await exifOf(photo) });
  }, 60_000);
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  async function tags(bytes: Buffer, name: string): Promise<string> {
    const file = path.join(dir, name);
    await writeFile(file, bytes);
    return (await run('exiftool', ['-a', '-G1', '-s', file])).stdout;
  }

  it('GPS in the Exif item › emptied in place: same length, the date stays, the structure reads', async () => {
    expect(await tags(heic, 'before.heic')).toMatch(/GPSLatitude/);

    const after = await patched(heic, 0, heic.length - 1, 65536);

    expect(after.length).toBe(heic.length);
    const seen = await tags(after, 'after.heic');
    expect(seen).not.toMatch(/GPS/);
    expect(seen).toMatch(/DateTimeOriginal\s+: 2024:07:14 09:31:02/);
    expect(readHeifMeta(after).items.size).toBe(readHeifMeta(heic).items.size);
  });

  it('any range in any chunking › the same bytes as that range of the whole rewrite', async () => {
    const whole = await patched(heic, 0, heic.length - 1, 65536);
    const patches = (await heifLocationPatches(readerOf(heic), heic.length))!;
    const cuts = patches.flatMap((p) => [p.offset - 1, p.offset + 1, p.offset + p.bytes.length - 1]);
    for (const start of [0, ...cuts]) {
      for (const end of [...cuts, heic.length - 1].filter((e) => e >= start)) {
        for (const chunk of [5, 4096]) {
          expect((await patched(heic, start, end, chunk)).equals(whole.subarray(start, end + 1))).toBe(true);
        }
      }
    }
  });

  it('truncated or garbage files › undefined (the preview is served), never a read past the end', async () => {
    const metaEnd = heic.indexOf('meta') - 4 + heic.readUInt32BE(heic.indexOf('meta') - 4);
    let seed = 5;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const cases = [Buffer.alloc(0), Buffer.from('not a picture'), heic.subarray(0, metaEnd - 1)];
    for (let i = 0; i < 300; i++) {
      const copy = Buffer.from(heic);
      for (let f = 0; f < 3; f++) copy[Math.floor(random() * metaEnd)] = Math.floor(random() * 256);
      cases.push(copy);
    }
    for (const bytes of cases) {
      const patches = await heifLocationPatches(readerOf(bytes), bytes.length);
      for (const patch of patches ?? []) expect(patch.offset + patch.bytes.length).toBeLessThanOrEqual(bytes.length);
    }
  });
});
