import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { signedUpUser, type ImageBody } from '../helpers/api.js';
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
import { sha256 } from '../helpers/photos.js';
import { startApiServer, type ApiServer } from './support/server.js';
import { storedState } from './support/state.js';

const TAKEN = { IFD0: { DateTime: '2024:03:09 08:15:00' }, IFD2: { DateTimeOriginal: '2024:03:09 08:15:00' } };

describe.skipIf(heifEncMissing)(`HEIC uploads${heifEncMissing ? ` (skipped: ${heifEncMissing})` : ''}`, () => {
  let server: ApiServer;
  /** An iPhone-like photo: 1200×800 in 512×512 tiles under a grid item, with its Exif. */
  let grid: Buffer;
  /** A 640×384 picture stored with irot 90° clockwise: a portrait as displayed. */
  let rotated: Buffer;

  beforeAll(async () => {
    const photo = await markedPhoto(1200, 800, TAKEN);
    [server, grid, rotated] = await Promise.all([
      startApiServer({ env: { PIXA_DAILY_TRANSFER_MB: '100000' } }),
      gridHeic(photo, 512, { exif: await exifOf(photo) }),
      heifEnc(await markedPhoto(640, 384)).then((file) =>
        assembleHeic({ tiles: [codedImageOf(file)], columns: 1, rows: 1, width: 640, height: 384, rotation: 3 }),
      ),
    ]);
  }, 120_000);
  afterAll(() => server?.close());

  const media = async (url: string) => (await server.client.fetchMedia(url)).body;

  it('a grid-tiled HEIC › 201, image/heic, its whole size and taken date, upright derivatives, the original byte for byte', async () => {
    const user = await signedUpUser(server.client);

    const res = await server.client.upload(user.token, [{ name: 'IMG_0001.HEIC', data: grid }]);

    expect(res.status).toBe(201);
    const image = res.body.images[0] as ImageBody;
    expect(image).toMatchObject({
      filename: 'IMG_0001.HEIC',
      mediaType: 'image/heic',
      width: 1200,
      height: 800,
      takenAt: '2024-03-09T08:15:00.000Z',
      size: grid.length,
    });
    const preview = await media(image.urls.preview);
    expect(await sharp(preview).metadata()).toMatchObject({ format: 'webp', width: 1200, height: 800 });
    // Whole, not one tile: the red quadrant spans two tiles, green fills the rest.
    expect(await isRedAt(preview, 0.45, 0.45)).toBe(true);
    expect(await isRedAt(preview, 0.9, 0.9)).toBe(false);
    const thumbnail = await media(image.urls.thumbnail);
    expect(await sharp(thumbnail).metadata()).toMatchObject({ format: 'webp', width: 400, height: 267 });
    expect(await isRedAt(thumbnail, 0.2, 0.2)).toBe(true);
    const download = await server.client.fetchMedia(image.urls.download);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('image/heic');
    expect(download.headers.get('content-disposition')).toMatch(/^attachment; filename="IMG_0001\.HEIC"/);
    expect(sha256(download.body)).toBe(sha256(grid));
  });

  it('a HEIC with irot › width and height as displayed, the thumbnail turned by its pixels', async () => {
    const user = await signedUpUser(server.client);

    const res = await server.client.upload(user.token, [{ name: 'portrait.heic', data: rotated }]);

    expect(res.status).toBe(201);
    const image = res.body.images[0] as ImageBody;
    expect(image).toMatchObject({ mediaType: 'image/heic', width: 384, height: 640 });
    const thumbnail = await media(image.urls.thumbnail);
    expect(await sharp(thumbnail).metadata()).toMatchObject({ width: 240, height: 400 });
    // The picture's top-left red quadrant, turned 90° clockwise, is at the top right.
    expect(await isRedAt(thumbnail, 0.75, 0.25)).toBe(true);
    expect(await isRedAt(thumbnail, 0.25, 0.25)).toBe(false);
  });

  it('a HEIC named .jpg › recognised by its content, and its original downloads as .heic', async () => {
    const user = await signedUpUser(server.client);

    const res = await server.client.upload(user.token, [{ name: 'holiday.jpg', data: rotated, type: 'image/jpeg' }]);

    expect(res.status).toBe(201);
    const image = res.body.images[0] as ImageBody;
    expect(image).toMatchObject({ filename: 'holiday.jpg', mediaType: 'image/heic' });
    const download = await server.client.fetchMedia(image.urls.download);
    expect(download.headers.get('content-disposition')).toMatch(/^attachment; filename="holiday\.heic"/);
    expect(sha256(download.body)).toBe(sha256(rotated));
  });

  it('a HEIC cut short › 400 invalid_image naming the file, nothing stored or left in staging', async () => {
    const user = await signedUpUser(server.client);
    const cut = grid.subarray(0, grid.length - 2000);

    const res = await server.client.upload(user.token, [{ name: 'cut.heic', data: cut }]);

    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_image', message: expect.stringContaining('"cut.heic"') });
    expect(await storedState(server, user.userId)).toMatchObject({ rows: [], objects: [], temp: [], storageUsed: 0 });
  });

  describe('with a decode budget of 100 MB', () => {
    let small: ApiServer;
    beforeAll(async () => {
      small = await startApiServer({ env: { PIXA_DECODE_MEMORY_MB: '100' } });
    });
    afterAll(() => small?.close());

    it('a 3 MP HEIC whose decode needs more › 413 image_too_large saying how much, nothing stored', async () => {
      const user = await signedUpUser(small.client);
      const tile = codedImageOf(await heifEnc(await markedPhoto(512, 512)));
      const big = assembleHeic({ tiles: Array(4 * 3).fill(tile), columns: 4, rows: 3, width: 2048, height: 1536 });

      const res = await small.client.upload(user.token, [{ name: 'big.heic', data: big }]);

      expect(res.status).toBe(413);
      expect(res.body.error.code).toBe('image_too_large');
      expect(res.body.error.message).toMatch(
        /^"big\.heic" is an 8-bit HEIC image of 2048×1536 pixels: decoding it needs about \d+ MB of memory, more than the 100 MB this server decodes with\. Saved as a JPEG/,
      );
      expect(await storedState(small, user.userId)).toMatchObject({ rows: [], objects: [], temp: [], storageUsed: 0 });
    });
  });
});
