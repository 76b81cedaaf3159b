import { crc32 } from 'node:zlib';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { signedUpUser, type ImageBody } from '../helpers/api.js';
import { makePhoto, sha256 } from '../helpers/photos.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { integrityOf, NO_PROBLEMS, problemsOf } from '../faults/support/integrity.js';

let server: TestServer;
let api: TestServer['client'];

beforeAll(async () => {
  server = await startTestServer();
  api = server.client;
});
afterAll(() => server?.close());

const HTML = Buffer.from('<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>\n');

/** A minimal ZIP archive (one stored file), as a polyglot's other half. */
function zipArchive(): Buffer {
  const name = Buffer.from('payload.html');
  const data = HTML;
  const crc = crc32(data);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(10, 4);
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(name.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(10, 4);
  central.writeUInt16LE(10, 6);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(name.length, 28);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + name.length, 12);
  end.writeUInt32LE(local.length + name.length + data.length, 16);
  return Buffer.concat([local, name, data, central, name, end]);
}

/** A JPEG with a comment (COM) segment right after SOI: still a valid JPEG, carrying HTML inside. */
function withJpegComment(jpeg: Buffer, comment: Buffer): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(comment.length + 2);
  return Buffer.concat([jpeg.subarray(0, 2), Buffer.from([0xff, 0xfe]), length, comment, jpeg.subarray(2)]);
}

/** A PNG whose first IDAT chunk has its data flipped (and its CRC left wrong). */
function corruptPng(png: Buffer): Buffer {
  const copy = Buffer.from(png);
  const idat = copy.indexOf('IDAT');
  for (let i = idat + 4; i < Math.min(copy.length - 12, idat + 4 + 400); i++) copy[i] = copy[i]! ^ 0xa5;
  return copy;
}

async function expectRefused(name: string, data: Buffer, type: string, statuses: number[]) {
  const user = await signedUpUser(api, 'hostile');

  const res = await api.upload(user.token, [{ name, data, type }]);

  expect(statuses).toContain(res.status);
  expect(res.body.error.message).toContain(`"${name}"`);
  const rows = await server.db.selectFrom('images').selectAll().where('owner_id', '=', user.userId).execute();
  expect(rows).toEqual([]);
  expect((await api.usage(user.token)).body.storage.usedBytes).toBe(0);
  expect(problemsOf(await integrityOf(server))).toEqual(NO_PROBLEMS);
}

/** A polyglot that is a valid image: only ever served as that image, and its derivatives are new pixels. */
async function expectServedOnlyAsImage(image: ImageBody, original: Buffer, mediaType: string) {
  const res = await api.fetchMedia(image.urls.original);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe(mediaType);
  expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  expect(res.headers.get('content-security-policy')).toMatch(/sandbox/);
  expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
  expect(sha256(res.body)).toBe(sha256(original));
  for (const url of [image.urls.preview, image.urls.thumbnail]) {
    const derivative = await api.fetchMedia(url);
    expect(derivative.headers.get('content-type')).toBe('image/webp');
    expect((await sharp(derivative.body).metadata()).format).toBe('webp');
    expect(derivative.body.includes(Buffer.from('<script'))).toBe(false);
    expect(derivative.body.includes(Buffer.from('PK\u0003\u0004'))).toBe(false);
  }
}

describe('content that is not what it claims', () => {
  test('content › SVG with a <script> sent as image/svg+xml › 415 and nothing stored', async () => {
    const svg = Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script>' +
        '<rect width="10" height="10"/></svg>',
    );
    await expectRefused('drawing.svg', svg, 'image/svg+xml', [415]);
  });

  test('content › SVG with a <script> named .jpg and sent as image/jpeg › 415 and nothing stored', async () => {
    const svg = Buffer.from(
      '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    );
    await expectRefused('drawing.jpg', svg, 'image/jpeg', [415]);
  });

  test('content › HTML followed by a JPEG › 415 and nothing stored', async () => {
    const photo = await makePhoto({ width: 200, height: 150, seed: 901 });
    await expectRefused('page.jpg', Buffer.concat([HTML, photo]), 'image/jpeg', [415]);
  });

  test('content › a ZIP followed by a JPEG › 415 and nothing stored', async () => {
    const photo = await makePhoto({ width: 200, height: 150, seed: 902 });
    await expectRefused('archive.jpg', Buffer.concat([zipArchive(), photo]), 'image/jpeg', [415]);
  });

  test('content › a PNG with damaged pixel data › 400 and nothing stored', async () => {
    const png = await makePhoto({ width: 300, height: 200, format: 'png', seed: 903 });
    await expectRefused('broken.png', corruptPng(png), 'image/png', [400]);
  });

  test('content › a PNG cut off after its header › 400 and nothing stored', async () => {
    const png = await makePhoto({ width: 300, height: 200, format: 'png', seed: 904 });
    await expectRefused('cut.png', png.subarray(0, 100), 'image/png', [400]);
  });

  test('content › a JPEG followed by a ZIP (valid JPEG) › accepted, served only as image/jpeg', async () => {
    const user = await signedUpUser(api, 'polyglot');
    const polyglot = Buffer.concat([await makePhoto({ width: 300, height: 200, seed: 905 }), zipArchive()]);

    const res = await api.upload(user.token, [{ name: 'holiday.jpg', data: polyglot, type: 'text/html' }]);

    expect(res.status).toBe(201);
    expect(res.body.images[0]!.mediaType).toBe('image/jpeg');
    await expectServedOnlyAsImage(res.body.images[0]!, polyglot, 'image/jpeg');
  });

  test('content › a JPEG carrying HTML in a comment and after its end (valid JPEG) › served only as image/jpeg', async () => {
    const user = await signedUpUser(api, 'polyglot');
    const photo = await makePhoto({ width: 300, height: 200, seed: 906 });
    const polyglot = Buffer.concat([withJpegComment(photo, HTML), HTML]);

    const res = await api.upload(user.token, [{ name: 'page.html', data: polyglot, type: 'text/html' }]);

    expect(res.status).toBe(201);
    await expectServedOnlyAsImage(res.body.images[0]!, polyglot, 'image/jpeg');
  });
});

describe('decompression bomb', () => {
  let bomb: Buffer;
  beforeAll(async () => {
    bomb = await sharp({
      create: { width: 20_000, height: 20_000, channels: 3, background: '#000' },
      limitInputPixels: false,
    })
      .toColourspace('b-w')
      .png({ compressionLevel: 9 })
      .toBuffer();
  }, 60_000);

  test('bomb › a 20,000 × 20,000 PNG under 1 MB › 413 image_too_large, nothing stored, memory bounded', async () => {
    expect(bomb.length).toBeLessThan(1024 * 1024);
    expect(await sharp(bomb, { limitInputPixels: false }).metadata()).toMatchObject({ width: 20_000, height: 20_000 });
    const user = await signedUpUser(api, 'bomb');
    const rssBefore = process.memoryUsage().rss;

    const res = await api.upload(user.token, [{ name: 'bomb.png', data: bomb, type: 'image/png' }]);

    const growth = process.memoryUsage().rss - rssBefore;
    console.info(`decompression bomb: ${bomb.length} bytes, RSS grew by ${(growth / 1e6).toFixed(1)} MB`);
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('image_too_large');
    // Decoding it would take 400 MB (1.2 GB as RGB); refusing it from the header takes next to nothing.
    expect(growth).toBeLessThan(300 * 1024 * 1024);
    expect((await api.usage(user.token)).body.storage.usedBytes).toBe(0);
    expect(problemsOf(await integrityOf(server))).toEqual(NO_PROBLEMS);
  });
});

describe('location metadata', () => {
  test.each(['png', 'webp'] as const)(
    'metadata › a %s with GPS EXIF › thumbnail and preview carry no metadata at all',
    async (format) => {
      const user = await signedUpUser(api, 'gps');
      const photo = await makePhoto({ width: 900, height: 600, gps: true, format, seed: 907 });
      const source = await sharp(photo).metadata();
      expect(source.exif).toBeDefined();

      const res = await api.upload(user.token, [{ name: `where.${format}`, data: photo }]);

      expect(res.status).toBe(201);
      const image = res.body.images[0]!;
      for (const url of [image.urls.thumbnail, image.urls.preview]) {
        const bytes = (await api.fetchMedia(url)).body;
        const meta = await sharp(bytes).metadata();
        expect(meta.exif).toBeUndefined();
        expect(meta.xmp).toBeUndefined();
        expect(bytes.includes(Buffer.from('GPS'))).toBe(false);
      }
    },
  );
});
