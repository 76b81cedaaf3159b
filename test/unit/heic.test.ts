import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { stopHeifWorkers } from '../../src/image/heic.js';
import {
  configureDecoding,
  decodeState,
  makeDerivatives,
  probeImage,
  type ProbedImage,
} from '../../src/image/image-processor.js';
import {
  assembleHeic,
  codedImageOf,
  exifOf,
  gridHeic,
  heifEnc,
  heifEncMissing,
  isRedAt,
  markedPhoto,
} from '../helpers/heic.js';

const MB = 1024 * 1024;
const MAX_PIXELS = 100_000_000;
const TAKEN = { IFD0: { DateTime: '2023:07:14 18:30:05' }, IFD2: { DateTimeOriginal: '2023:07:14 18:30:05' } };
let dir: string;
let counter = 0;

/** Writes a fixture to a file, as an upload is staged. */
async function staged(data: Buffer): Promise<string> {
  const file = path.join(dir, `fixture-${(counter += 1)}.heic`);
  await writeFile(file, data);
  return file;
}

const rejectionOf = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error as Error,
  );

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pixa-heic-'));
});
afterAll(async () => {
  configureDecoding({ concurrency: 2, memoryBytes: 1024 * MB });
  stopHeifWorkers();
  await rm(dir, { recursive: true, force: true });
});

describe.skipIf(heifEncMissing)(`HEIC decoding${heifEncMissing ? ` (skipped: ${heifEncMissing})` : ''}`, () => {
  test('a HEIC from heif-enc › image/heic, its size, the taken date from its Exif, upright derivatives', async () => {
    const file = await staged(await heifEnc(await markedPhoto(640, 480, TAKEN)));

    const probed = await probeImage(file, MAX_PIXELS);
    const { preview, thumbnail } = await makeDerivatives(file, MAX_PIXELS);

    expect(probed).toEqual<ProbedImage>({
      mediaType: 'image/heic',
      width: 640,
      height: 480,
      orientation: 1,
      takenAt: Date.UTC(2023, 6, 14, 18, 30, 5),
    });
    expect(await sharp(preview).metadata()).toMatchObject({ format: 'webp', width: 640, height: 480 });
    expect(await sharp(thumbnail).metadata()).toMatchObject({ format: 'webp', width: 400, height: 300 });
    expect(await isRedAt(thumbnail, 0.25, 0.25)).toBe(true);
    expect(await isRedAt(thumbnail, 0.75, 0.75)).toBe(false);
  });

  test('a grid of 512×512 tiles, as iPhones write › decodes whole, not as its first tile', async () => {
    const photo = await markedPhoto(1200, 800, TAKEN);
    const file = await staged(await gridHeic(photo, 512, { exif: await exifOf(photo) }));

    const probed = await probeImage(file, MAX_PIXELS);
    const { preview } = await makeDerivatives(file, MAX_PIXELS);

    expect(probed).toMatchObject({ mediaType: 'image/heic', width: 1200, height: 800 });
    expect(probed.takenAt).toBe(Date.UTC(2023, 6, 14, 18, 30, 5));
    expect(await sharp(preview).metadata()).toMatchObject({ width: 1200, height: 800 });
    // The red quadrant spans tiles (0,0) and (1,0); green fills the last row and column's tiles.
    expect(await isRedAt(preview, 0.1, 0.1)).toBe(true);
    expect(await isRedAt(preview, 0.45, 0.45)).toBe(true);
    expect(await isRedAt(preview, 0.95, 0.95)).toBe(false);
    expect(await isRedAt(preview, 0.55, 0.1)).toBe(false);
  });

  test('irot of 90° clockwise › width and height as displayed, the derivatives turned', async () => {
    const coded = codedImageOf(await heifEnc(await markedPhoto(640, 384)));
    const file = await staged(
      assembleHeic({ tiles: [coded], columns: 1, rows: 1, width: 640, height: 384, rotation: 3 }),
    );

    const probed = await probeImage(file, MAX_PIXELS);
    const { thumbnail } = await makeDerivatives(file, MAX_PIXELS);

    expect(probed).toMatchObject({ width: 384, height: 640, orientation: 1 });
    expect(await sharp(thumbnail).metadata()).toMatchObject({ width: 240, height: 400 });
    // The top-left red quadrant is now top right.
    expect(await isRedAt(thumbnail, 0.75, 0.25)).toBe(true);
    expect(await isRedAt(thumbnail, 0.25, 0.25)).toBe(false);
  });

  test('imir left to right › the derivatives mirrored, the size unchanged', async () => {
    const coded = codedImageOf(await heifEnc(await markedPhoto(640, 384)));
    const file = await staged(
      assembleHeic({ tiles: [coded], columns: 1, rows: 1, width: 640, height: 384, mirror: 1 }),
    );

    const probed = await probeImage(file, MAX_PIXELS);
    const { thumbnail } = await makeDerivatives(file, MAX_PIXELS);

    expect(probed).toMatchObject({ width: 640, height: 384 });
    expect(await isRedAt(thumbnail, 0.75, 0.25)).toBe(true);
    expect(await isRedAt(thumbnail, 0.25, 0.25)).toBe(false);
  });

  test('irot and an EXIF orientation saying the same turn › turned once, not twice', async () => {
    const withOrientation = await sharp(await markedPhoto(640, 384))
      .withMetadata({ orientation: 6 })
      .jpeg()
      .toBuffer();
    const coded = codedImageOf(await heifEnc(await markedPhoto(640, 384)));
    const file = await staged(
      assembleHeic({
        tiles: [coded],
        columns: 1,
        rows: 1,
        width: 640,
        height: 384,
        rotation: 3,
        exif: await exifOf(withOrientation),
      }),
    );

    const probed = await probeImage(file, MAX_PIXELS);
    const { thumbnail } = await makeDerivatives(file, MAX_PIXELS);

    expect(probed).toMatchObject({ width: 384, height: 640, orientation: 1 });
    expect(await sharp(thumbnail).metadata()).toMatchObject({ width: 240, height: 400 });
    expect(await isRedAt(thumbnail, 0.75, 0.25)).toBe(true);
  });

  describe('a 48 MP HEIC (8000×6000, 16×12 tiles)', () => {
    let file: string;
    beforeAll(async () => {
      const tile = codedImageOf(await heifEnc(await markedPhoto(512, 512)));
      file = await staged(
        assembleHeic({ tiles: Array(16 * 12).fill(tile), columns: 16, rows: 12, width: 8000, height: 6000 }),
      );
    }, 60_000);

    test('decodes within the default 1024 MB budget, in a worker: the event loop keeps turning', async () => {
      configureDecoding({ concurrency: 2, memoryBytes: 1024 * MB });
      let turns = 0;
      const ticker = setInterval(() => (turns += 1), 5);

      const probed = await probeImage(file, MAX_PIXELS);
      const { preview } = await makeDerivatives(file, MAX_PIXELS);
      clearInterval(ticker);

      expect(probed).toMatchObject({ width: 8000, height: 6000 });
      expect(await sharp(preview).metadata()).toMatchObject({ width: 1600, height: 1200 });
      // On the main thread a decode of seconds would let no timer run until it ended.
      expect(turns).toBeGreaterThan(10);
      expect(decodeState()).toEqual({ running: 0, usedBytes: 0, waiting: 0 });
    }, 120_000);

    test('with a 512 MB budget › refused before decoding, as too large, naming what it would need', async () => {
      configureDecoding({ concurrency: 2, memoryBytes: 512 * MB });

      const refusal = await rejectionOf(probeImage(file, MAX_PIXELS));

      expect(refusal).toMatchObject({ rejection: { reason: 'too_many_pixels' } });
      expect(refusal?.message).toMatch(
        /^is an 8-bit HEIC image of 8000×6000 pixels: decoding it needs about \d{3} MB of memory, more than the 512 MB/,
      );
      expect(await rejectionOf(makeDerivatives(file, MAX_PIXELS))).toMatchObject({
        rejection: { reason: 'too_many_pixels' },
      });
      expect(decodeState()).toEqual({ running: 0, usedBytes: 0, waiting: 0 });
      configureDecoding({ concurrency: 2, memoryBytes: 1024 * MB });
    });
  });

  test('a HEIF image sequence with a primary image › image/heif-sequence, its primary image shown', async () => {
    const coded = codedImageOf(await heifEnc(await markedPhoto(640, 384)));
    const file = await staged(
      assembleHeic({ tiles: [coded], columns: 1, rows: 1, width: 640, height: 384, brand: 'msf1' }),
    );

    const probed = await probeImage(file, MAX_PIXELS);
    const { thumbnail } = await makeDerivatives(file, MAX_PIXELS);

    expect(probed).toMatchObject({ mediaType: 'image/heif-sequence', width: 640, height: 384 });
    expect(await isRedAt(thumbnail, 0.25, 0.25)).toBe(true);
  });

  test('a HEIF image sequence with only a track › refused as unsupported, saying why', async () => {
    const ftyp = Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypmsf1\0\0\0\0msf1heic', 'latin1')]);
    const moov = Buffer.concat([Buffer.from([0, 0, 0, 16]), Buffer.from('moov', 'latin1'), Buffer.alloc(8)]);
    const file = await staged(Buffer.concat([ftyp, moov]));

    const refusal = await rejectionOf(probeImage(file, MAX_PIXELS));

    expect(refusal).toMatchObject({ rejection: { reason: 'unsupported' } });
    expect(refusal?.message).toMatch(/image sequence with no still image/);
  });

  test('cut short in its image data › probed, then refused as damaged by the decode', async () => {
    const whole = await heifEnc(await markedPhoto(640, 480));
    const file = await staged(whole.subarray(0, whole.length - Math.floor(whole.length / 3)));

    await expect(probeImage(file, MAX_PIXELS)).resolves.toMatchObject({ width: 640 });
    expect(await rejectionOf(makeDerivatives(file, MAX_PIXELS))).toMatchObject({ rejection: { reason: 'invalid' } });
    expect(decodeState()).toEqual({ running: 0, usedBytes: 0, waiting: 0 });
  });

  test('cut short in its header › refused as damaged by the probe', async () => {
    const whole = await heifEnc(await markedPhoto(640, 480));
    const file = await staged(whole.subarray(0, 120));

    expect(await rejectionOf(probeImage(file, MAX_PIXELS))).toMatchObject({ rejection: { reason: 'invalid' } });
  });

  test('a grid claiming 60000×60000 pixels over one small tile › refused by the probe, nothing decoded', async () => {
    const tile = codedImageOf(await heifEnc(await markedPhoto(512, 512)));
    const file = await staged(assembleHeic({ tiles: [tile, tile], columns: 2, rows: 1, width: 60000, height: 60000 }));

    expect(await rejectionOf(probeImage(file, MAX_PIXELS))).toMatchObject({
      rejection: { reason: 'too_many_pixels', detail: expect.stringMatching(/^is 60000×60000 pixels, more than/) },
    });
    expect(await rejectionOf(makeDerivatives(file, MAX_PIXELS))).toMatchObject({
      rejection: { reason: 'too_many_pixels' },
    });
    expect(decodeState()).toEqual({ running: 0, usedBytes: 0, waiting: 0 });
  });

  test('more pixels than the limit › refused by the probe from the header alone', async () => {
    const file = await staged(await heifEnc(await markedPhoto(640, 480)));

    expect(await rejectionOf(probeImage(file, 640 * 480 - 1))).toMatchObject({
      rejection: { reason: 'too_many_pixels' },
    });
  });
});
