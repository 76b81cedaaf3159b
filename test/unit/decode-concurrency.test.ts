import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeAll, expect, test } from 'vitest';

import { configureDecoding, decodeState, makeDerivatives, probeImage } from '../../src/image/image-processor.js';

const MB = 1024 * 1024;
let dir: string;
let photo: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pixa-decodes-'));
  photo = path.join(dir, 'photo-24mp.jpg');
  const small = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#6a3' } })
    .png()
    .toBuffer();
  await sharp(small).resize(6000, 4000, { kernel: 'linear' }).jpeg().toFile(photo);
});
afterAll(async () => {
  configureDecoding({ concurrency: 2, memoryBytes: 1024 * MB });
  await rm(dir, { recursive: true, force: true });
});

test('eight 24 MP photos derived at once never decode more than PIXA_DECODE_CONCURRENCY at a time', async () => {
  configureDecoding({ concurrency: 2, memoryBytes: 1024 * MB });
  let most = 0;
  let queued = 0;
  const poll = setInterval(() => {
    const state = decodeState();
    most = Math.max(most, state.running);
    queued = Math.max(queued, state.waiting);
  }, 1);

  const results = await Promise.all(Array.from({ length: 8 }, () => makeDerivatives(photo, 100_000_000)));
  clearInterval(poll);

  expect(results.every((r) => r.preview.length > 0 && r.thumbnail.length > 0)).toBe(true);
  expect(most).toBe(2);
  expect(queued).toBeGreaterThan(0);
  expect(decodeState()).toEqual({ running: 0, usedBytes: 0, waiting: 0 });
});

test('an image whose estimate exceeds the whole budget is refused by the probe, as too large', async () => {
  configureDecoding({ concurrency: 2, memoryBytes: 40 * MB });

  const refusal = await probeImage(photo, 100_000_000).catch((error: unknown) => error);

  expect(refusal).toMatchObject({ rejection: { reason: 'too_many_pixels' } });
  expect(String((refusal as Error).message)).toMatch(
    /^is an 8-bit JPEG of 6000×4000 pixels: decoding it needs about \d+ MB/,
  );
  expect(decodeState()).toEqual({ running: 0, usedBytes: 0, waiting: 0 });
});
