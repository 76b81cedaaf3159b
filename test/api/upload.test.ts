import http from 'node:http';

import { sql } from 'kysely';
import sharp from 'sharp';
import { fetch as undiciFetch, FormData as UndiciFormData, Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { signedUpUser, type ImageBody } from '../helpers/api.js';
import { makePhoto, pngClaiming, sha256, SVG_IMAGE } from '../helpers/photos.js';
import { IN_POD, startApiServer, type ApiServer } from './support/server.js';
import {
  imageRows,
  leftoverTempFiles,
  objectKeysOf,
  storageEvents,
  storedState,
  transferCounters,
  transferFromLog,
  userRow,
} from './support/state.js';

let server: ApiServer;

beforeAll(async () => {
  server = await startApiServer();
});
afterAll(() => server?.close());

const media = async (url: string) => (await server.client.fetchMedia(url)).body;

/**
 * A refused upload: nothing stored (no row, object, staging file, storage), and exactly the `received`
 * bytes counted as the day's transfer in, logged as one upload event with the refusal's `status`, and
 * shown by the usage endpoint.
 */
async function expectChargedNotStored(
  on: ApiServer,
  user: { userId: string; token: string },
  received: number,
  status: number,
) {
  const state = await storedState(on, user.userId);
  expect(state).toMatchObject({ rows: [], objects: [], temp: [], storageUsed: 0 });
  expect(state.transfer).toEqual({ bytesIn: received, bytesOut: 0 });
  expect(state.transfer).toEqual(await transferFromLog(on, user.userId));
  const event = { operation: 'upload', image_id: null, bytes: received, status };
  expect(state.events).toEqual(received === 0 ? [] : [expect.objectContaining(event)]);
  const usage = (await on.client.usage(user.token)).body;
  expect(usage.transfer).toMatchObject({ inBytes: received, outBytes: 0, usedBytes: received });
}

describe('upload › accepted', () => {
  it('upload › one JPEG › returns 201 and stores the row, three objects, the bytes and their events', async () => {
    const user = await signedUpUser(server.client);
    const photo = await makePhoto({ takenAt: '2021:06:15 10:30:00' });

    const res = await server.client.upload(user.token, [{ name: 'beach.jpg', data: photo, type: 'image/jpeg' }]);

    expect(res.status).toBe(201);
    const [image] = res.body.images;
    expect(image).toMatchObject({
      filename: 'beach.jpg',
      mediaType: 'image/jpeg',
      size: photo.length,
      width: 1200,
      height: 800,
      takenAt: '2021-06-15T10:30:00.000Z',
      duplicate: false,
    });
    const [row] = await imageRows(server, user.userId);
    expect(row).toMatchObject({ id: image!.id, sha256: sha256(photo), original_bytes: photo.length });
    const objects = await objectKeysOf(server, user.userId);
    const prefix = `${user.userId}/${image!.id}/`;
    expect(objects).toEqual([`${prefix}original`, `${prefix}preview.webp`, `${prefix}thumb.webp`]);
    const stored = row!.original_bytes + row!.thumbnail_bytes + row!.preview_bytes;
    expect((await userRow(server, user.userId)).storage_used_bytes).toBe(stored);
    const events = await storageEvents(server, user.userId);
    expect(events.map((e) => [e.operation, e.object_key]).sort()).toEqual(objects.map((key) => ['upload', key]).sort());
    expect(events.reduce((sum, e) => sum + e.bytes, 0)).toBe(stored);
  });

  it('upload › several files in one request › returns 201 with every image, in order', async () => {
    const user = await signedUpUser(server.client);
    const files = await Promise.all(
      [1, 2, 3].map(async (seed) => ({ name: `p${seed}.jpg`, data: await makePhoto({ seed }) })),
    );

    const res = await server.client.upload(user.token, files);

    expect(res.status).toBe(201);
    expect(res.body.images.map((i) => i.filename)).toEqual(['p1.jpg', 'p2.jpg', 'p3.jpg']);
    expect(new Set(res.body.images.map((i) => i.id)).size).toBe(3);
    expect(await imageRows(server, user.userId)).toHaveLength(3);
  });

  it.each([
    ['png', 'image/png'],
    ['webp', 'image/webp'],
    ['gif', 'image/gif'],
    ['avif', 'image/avif'],
    ['tiff', 'image/tiff'],
  ] as const)('upload › %s by content › is accepted as %s', async (format, mediaType) => {
    const user = await signedUpUser(server.client);
    const data = await makePhoto({ format, width: 320, height: 240 });

    const res = await server.client.upload(user.token, [{ name: 'no-extension', data }]);

    expect(res.status).toBe(201);
    expect(res.body.images[0]).toMatchObject({ mediaType, width: 320, height: 240 });
    expect((await sharp(await media(res.body.images[0]!.urls.thumbnail)).metadata()).format).toBe('webp');
  });

  it('upload › a PNG named .jpg and sent as image/jpeg › is stored as the PNG it is', async () => {
    const user = await signedUpUser(server.client);
    const png = await makePhoto({ format: 'png', width: 300, height: 200 });

    const res = await server.client.upload(user.token, [{ name: 'disguised.jpg', data: png, type: 'image/jpeg' }]);

    expect(res.status).toBe(201);
    expect(res.body.images[0]!.mediaType).toBe('image/png');
    const original = await server.client.fetchMedia(res.body.images[0]!.urls.original);
    expect(original.headers.get('content-type')).toBe('image/png');
  });

  it('upload › a filename with directories and control characters › keeps only a clean name for display', async () => {
    const user = await signedUpUser(server.client);

    const res = await server.client.upload(user.token, [
      { name: '../../etc/\u202egpj.exe\u0007.jpg', data: await makePhoto({ width: 200, height: 100 }) },
    ]);

    expect(res.status).toBe(201);
    expect(res.body.images[0]!.filename).toBe('gpj.exe.jpg');
    expect(await objectKeysOf(server, user.userId)).toHaveLength(3);
  });

  it('upload › a Unicode filename › is kept exactly', async () => {
    const user = await signedUpUser(server.client);
    const name = 'Été à Zürich – 東京 📷.jpg';

    const res = await server.client.upload(user.token, [{ name, data: await makePhoto({ width: 200, height: 100 }) }]);

    expect(res.status).toBe(201);
    expect(res.body.images[0]!.filename).toBe(name);
  });
});

describe('upload › long names', () => {
  it('upload › a name of 300 emoji › is cut to 255 whole characters, keeps its extension, and downloads', async () => {
    const user = await signedUpUser(server.client);
    const name = `${'📷'.repeat(300)}.jpg`;

    const res = await server.client.upload(user.token, [{ name, data: await makePhoto({ width: 200, height: 100 }) }]);

    expect(res.status).toBe(201);
    const stored = res.body.images[0]!.filename;
    expect([...stored]).toHaveLength(255);
    expect(stored).toBe(`${'📷'.repeat(251)}.jpg`);
    const download = await server.client.fetchMedia(res.body.images[0]!.urls.download);
    expect(download.status).toBe(200);
    const encoded = /filename\*=UTF-8''(.+)$/.exec(download.headers.get('content-disposition')!)![1]!;
    expect(decodeURIComponent(encoded)).toBe(stored);
  });
});

describe('upload › what is recorded', () => {
  it('upload › JPEG with EXIF orientation 6 › reports displayed size and stores rotated derivatives', async () => {
    const user = await signedUpUser(server.client);
    const photo = await makePhoto({ width: 600, height: 400, orientation: 6 });

    const res = await server.client.upload(user.token, [{ name: 'portrait.jpg', data: photo }]);

    const image = res.body.images[0]!;
    expect([image.width, image.height]).toEqual([400, 600]);
    const thumb = await sharp(await media(image.urls.thumbnail)).metadata();
    expect([thumb.width, thumb.height]).toEqual([267, 400]);
    expect(thumb.orientation).toBeUndefined();
    const preview = await sharp(await media(image.urls.preview)).metadata();
    expect([preview.width, preview.height]).toEqual([400, 600]);
  });

  it('upload › no EXIF date › takenAt is the upload time', async () => {
    const user = await signedUpUser(server.client);

    const res = await server.client.upload(user.token, [
      { name: 'undated.png', data: await makePhoto({ format: 'png' }) },
    ]);

    const image = res.body.images[0]!;
    expect(image.takenAt).toBe(image.uploadedAt);
    expect(Math.abs(Date.parse(image.uploadedAt) - Date.now())).toBeLessThan(10 * 60 * 1000);
  });

  it('upload › derivatives › thumbnail 400 px and preview 1600 px on the long side, WebP, no metadata, GPS gone', async () => {
    const user = await signedUpUser(server.client);
    const photo = await makePhoto({ width: 2400, height: 1600, gps: true, takenAt: '2020:01:02 03:04:05' });
    expect((await sharp(photo).metadata()).exif).toBeDefined();

    const res = await server.client.upload(user.token, [{ name: 'paris.jpg', data: photo }]);

    const image = res.body.images[0]!;
    for (const [url, size] of [
      [image.urls.thumbnail, [400, 267]],
      [image.urls.preview, [1600, 1067]],
    ] as const) {
      const bytes = await media(url);
      const meta = await sharp(bytes).metadata();
      expect(meta.format).toBe('webp');
      expect([meta.width, meta.height]).toEqual(size);
      expect(meta.exif).toBeUndefined();
      expect(meta.xmp).toBeUndefined();
      expect(bytes.includes(Buffer.from('GPS'))).toBe(false);
    }
  });

  it('upload › a small image › derivatives are not enlarged', async () => {
    const user = await signedUpUser(server.client);

    const res = await server.client.upload(user.token, [
      { name: 'tiny.png', data: await makePhoto({ format: 'png', width: 120, height: 90 }) },
    ]);

    const image = res.body.images[0]!;
    for (const url of [image.urls.thumbnail, image.urls.preview]) {
      const meta = await sharp(await media(url)).metadata();
      expect([meta.width, meta.height]).toEqual([120, 90]);
    }
  });

  it('upload › the original › comes back byte for byte', async () => {
    const user = await signedUpUser(server.client);
    const photo = await makePhoto({ gps: true, takenAt: '2019:12:24 18:00:00', seed: 9 });

    const res = await server.client.upload(user.token, [{ name: 'eve.jpg', data: photo }]);

    expect(sha256(await media(res.body.images[0]!.urls.original))).toBe(sha256(photo));
  });
});

describe('upload › duplicates', () => {
  it('upload › the same bytes again › returns 200, duplicate true, the same id, and storage is not charged twice', async () => {
    const user = await signedUpUser(server.client);
    const photo = await makePhoto({ seed: 21 });
    const first = await server.client.upload(user.token, [{ name: 'a.jpg', data: photo }]);
    const used = (await userRow(server, user.userId)).storage_used_bytes;

    const again = await server.client.upload(user.token, [{ name: 'copy of a.jpg', data: photo }]);

    expect(again.status).toBe(200);
    expect(again.body.images[0]).toMatchObject({ id: first.body.images[0]!.id, duplicate: true, filename: 'a.jpg' });
    expect((await userRow(server, user.userId)).storage_used_bytes).toBe(used);
    expect(await imageRows(server, user.userId)).toHaveLength(1);
    expect(await objectKeysOf(server, user.userId)).toHaveLength(3);
  });

  it('upload › the same bytes twice in one request › one image, the second marked duplicate', async () => {
    const user = await signedUpUser(server.client);
    const photo = await makePhoto({ seed: 22 });

    const res = await server.client.upload(user.token, [
      { name: 'a.jpg', data: photo },
      { name: 'b.jpg', data: photo },
    ]);

    expect(res.status).toBe(201);
    const [a, b] = res.body.images as [ImageBody, ImageBody];
    expect([a.duplicate, b.duplicate]).toEqual([false, true]);
    expect(b.id).toBe(a.id);
    expect(await imageRows(server, user.userId)).toHaveLength(1);
  });

  it('upload › the same bytes by two accounts › each gets an image of their own', async () => {
    const [ana, bo] = await Promise.all([signedUpUser(server.client), signedUpUser(server.client)]);
    const photo = await makePhoto({ seed: 23 });

    const a = await server.client.upload(ana.token, [{ name: 'a.jpg', data: photo }]);
    const b = await server.client.upload(bo.token, [{ name: 'b.jpg', data: photo }]);

    expect([a.status, b.status]).toEqual([201, 201]);
    expect(b.body.images[0]!.id).not.toBe(a.body.images[0]!.id);
  });

  it('upload › the same new bytes in parallel requests › end as one image', async () => {
    const user = await signedUpUser(server.client);
    const photo = await makePhoto({ seed: 24 });

    const results = await Promise.all(
      [1, 2, 3].map(() => server.client.upload(user.token, [{ name: 'a.jpg', data: photo }])),
    );

    expect(results.every((r) => r.status === 200 || r.status === 201)).toBe(true);
    expect(new Set(results.map((r) => r.body.images[0]!.id)).size).toBe(1);
    const state = await storedState(server, user.userId);
    expect(state.rows).toHaveLength(1);
    expect(state.objects).toHaveLength(3);
    expect(state.temp).toEqual([]);
    expect(state.storageUsed).toBe(
      state.rows[0]!.original_bytes + state.rows[0]!.thumbnail_bytes + state.rows[0]!.preview_bytes,
    );
  });
});

describe('upload › refused', () => {
  async function expectRefused(
    files: { name: string; data: Buffer; type?: string }[],
    status: number,
    code: string,
    name?: string,
  ) {
    const user = await signedUpUser(server.client);

    const res = await server.client.upload(user.token, files);

    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    if (name) expect(res.body.error.message).toContain(`"${name}"`);
    // Nothing is stored, but every byte received counts as the day's transfer, logged with the refusal.
    const received = files.reduce((sum, file) => sum + file.data.length, 0);
    await expectChargedNotStored(server, user, received, status);
  }

  it('upload › text named .jpg sent as image/jpeg › returns 415 naming the file and stores nothing', async () => {
    await expectRefused(
      [{ name: 'notes.jpg', data: Buffer.from('just some text\n'.repeat(50)), type: 'image/jpeg' }],
      415,
      'unsupported_media_type',
      'notes.jpg',
    );
  });

  it('upload › an SVG › returns 415 naming the file', async () => {
    await expectRefused(
      [{ name: 'logo.svg', data: SVG_IMAGE, type: 'image/svg+xml' }],
      415,
      'unsupported_media_type',
      'logo.svg',
    );
  });

  it('upload › a PDF › returns 415 naming the file', async () => {
    const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
    await expectRefused([{ name: 'scan.pdf', data: pdf }], 415, 'unsupported_media_type', 'scan.pdf');
  });

  it('upload › an empty file › returns 400 naming the file', async () => {
    await expectRefused([{ name: 'empty.jpg', data: Buffer.alloc(0) }], 400, 'invalid_image', 'empty.jpg');
  });

  it('upload › a truncated JPEG › returns 400 naming the file', async () => {
    const photo = await makePhoto({ seed: 31 });
    await expectRefused(
      [{ name: 'cut.jpg', data: photo.subarray(0, Math.floor(photo.length / 2)) }],
      400,
      'invalid_image',
      'cut.jpg',
    );
  });

  it('upload › a JPEG header followed by garbage › returns 400 naming the file', async () => {
    const photo = await makePhoto({ seed: 32 });
    const corrupt = Buffer.concat([photo.subarray(0, 4), Buffer.alloc(photo.length - 4, 0x5a)]);
    await expectRefused([{ name: 'corrupt.jpg', data: corrupt }], 400, 'invalid_image', 'corrupt.jpg');
  });

  it('upload › a good file and a bad one together › refuses the request and stores neither', async () => {
    const good = await makePhoto({ seed: 33 });
    await expectRefused(
      [
        { name: 'good.jpg', data: good },
        { name: 'bad.jpg', data: Buffer.from('not an image') },
      ],
      415,
      'unsupported_media_type',
      'bad.jpg',
    );
  });

  it('upload › a header claiming 100,000 × 100,000 pixels › returns 413 image_too_large without decoding', async () => {
    await expectRefused(
      [{ name: 'bomb.png', data: pngClaiming(100_000, 100_000) }],
      413,
      'image_too_large',
      'bomb.png',
    );
  });

  it('upload › refused while its bytes cannot be charged › the same 415, and nothing half-counted', async () => {
    const [first, second] = await Promise.all([signedUpUser(server.client), signedUpUser(server.client)]);
    const text = Buffer.from('just some text\n'.repeat(50));
    const send = (token: string) => server.client.upload(token, [{ name: 'notes.jpg', data: text }]);
    const normal = await send(first.token);
    // A real database failure, only where the charge writes: the event log is gone for a moment.
    await sql`alter table storage_events rename to storage_events_away`.execute(server.db);
    let refused;
    try {
      refused = await send(second.token);
    } finally {
      await sql`alter table storage_events_away rename to storage_events`.execute(server.db);
    }

    expect(normal.status).toBe(415);
    expect([refused.status, refused.body]).toEqual([415, normal.body]);
    // The charge is one transaction: its counter rolled back with the event it could not write.
    await expectChargedNotStored(server, second, 0, 415);
  });

  it('upload › no file in the form › returns 400 no_files', async () => {
    const user = await signedUpUser(server.client);
    const form = new FormData();
    form.append('note', 'hello');

    const res = await server.client.request<{ error: { code: string } }>('POST', '/api/v1/images', {
      token: user.token,
      form,
    });

    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('no_files');
  });

  it('upload › a JSON body instead of multipart › returns 415', async () => {
    const user = await signedUpUser(server.client);

    const res = await server.client.request<{ error: { code: string } }>('POST', '/api/v1/images', {
      token: user.token,
      json: { file: 'aGVsbG8=' },
    });

    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe('expected_multipart');
  });

  it('upload › without a token › returns 401, and the kept-alive connection takes the next request', async () => {
    // One connection for both requests: the refused upload's body must not be left on it.
    const pool = new Pool(server.url, { connections: 1, pipelining: 1 });
    try {
      const form = new UndiciFormData();
      form.append('file', new Blob([await makePhoto({ width: 16, height: 16 })]), 'a.jpg');
      const refused = await undiciFetch(`${server.url}/api/v1/images`, {
        method: 'POST',
        body: form,
        dispatcher: pool,
      });
      const errorBody = (await refused.json()) as { error: { code: string } };
      const next = await undiciFetch(`${server.url}/api/v1/images`, { dispatcher: pool });
      await next.arrayBuffer();

      expect([refused.status, errorBody.error.code]).toEqual([401, 'unauthorized']);
      expect(next.status).toBe(401);
    } finally {
      await pool.close();
    }
  });

  it('upload › without a token, a body larger than the server reads › the client still gets the 401', async () => {
    // The server answers before the body has arrived and closes the connection; it goes on reading
    // until the client is done, so the client reads the 401 instead of a reset connection.
    for (let i = 0; i < 5; i += 1) {
      const res = await server.client.upload('', [{ name: 'big.jpg', data: Buffer.alloc(3 * 1024 * 1024, i) }]);

      expect([res.status, res.body.error.code]).toEqual([401, 'unauthorized']);
    }
  });
});

describe('upload › interrupted', () => {
  it('upload › the client hangs up halfway › no row, no object, no temp file; the bytes received count', async () => {
    const user = await signedUpUser(server.client);
    const photo = await makePhoto({ noise: true, width: 1000, height: 700 });
    const boundary = 'pixa-test-boundary';
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="cut.jpg"\r\n` +
        'Content-Type: image/jpeg\r\n\r\n',
    );
    const { port } = new URL(server.url);
    const request = http.request({
      port,
      host: '127.0.0.1',
      method: 'POST',
      path: '/api/v1/images',
      headers: {
        authorization: `Bearer ${user.token}`,
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(head.length + photo.length + 100),
      },
    });
    request.on('error', () => undefined);
    request.write(head);
    request.write(photo.subarray(0, photo.length / 2));
    // Let the server start staging the file before the connection drops.
    await vi.waitFor(async () => expect((await leftoverTempFiles(server)).length).toBeGreaterThan(0), {
      timeout: 10_000,
    });

    request.destroy();

    await vi.waitFor(async () => expect(await leftoverTempFiles(server)).toEqual([]), { timeout: 10_000 });
    // The refusal is answered to nobody, but the bytes read before the hang-up were received.
    const state = await vi.waitFor(
      async () => {
        const current = await storedState(server, user.userId);
        expect(current.events).toHaveLength(1);
        return current;
      },
      { timeout: 10_000 },
    );
    const received = state.transfer.bytesIn;
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThanOrEqual(photo.length / 2);
    await expectChargedNotStored(server, user, received, 400);
  });
});

describe('upload › limits', () => {
  let limited: ApiServer;

  beforeAll(async () => {
    limited = await startApiServer({
      env: { PIXA_MAX_UPLOAD_MB: '1', PIXA_MAX_PIXELS: '1000000', PIXA_MAX_FILES_PER_UPLOAD: '3' },
    });
  });
  afterAll(() => limited?.close());

  async function refusedOn(files: { name: string; data: Buffer }[]) {
    const user = await signedUpUser(limited.client);
    const res = await limited.client.upload(user.token, files);
    return { res, user };
  }

  /**
   * Checks the charge of a refusal for a limit the multipart parser enforces, and returns the bytes
   * charged: more than `min`, at most `max`. In a pod the gateway enforces it and cuts the body it
   * forwards, so the storage service counts what it read as an interrupted upload (400), a moment
   * after the gateway answered; it removes its staging files once that is done.
   */
  async function chargedForLimit(user: { userId: string; token: string }, min: number, max: number) {
    // In a pod the storage service may still be reading the parts the gateway forwarded before it
    // cut the body: the state is checked once it has stayed the same over two looks.
    let previous = '';
    const received = await vi.waitFor(
      async () => {
        expect(await leftoverTempFiles(limited)).toEqual([]);
        const { bytesIn } = await transferCounters(limited, user.userId);
        expect(bytesIn).toBeGreaterThan(min);
        expect(bytesIn).toBeLessThanOrEqual(max);
        const state = JSON.stringify(await storedState(limited, user.userId));
        const settled = !IN_POD || state === previous;
        previous = state;
        expect(settled).toBe(true);
        return bytesIn;
      },
      // Its staged parts may wait for decodes of the suite's other uploads (the decode budget) first.
      { timeout: 30_000, interval: 250 },
    );
    await expectChargedNotStored(limited, user, received, IN_POD ? 400 : 413);
    return received;
  }

  it('upload › a file over PIXA_MAX_UPLOAD_MB › returns 413 naming the file, with nothing stored', async () => {
    const big = await makePhoto({ noise: true, width: 1600, height: 1200 });
    expect(big.length).toBeGreaterThan(1024 * 1024);

    const { res, user } = await refusedOn([{ name: 'huge.jpg', data: big }]);

    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('file_too_large');
    expect(res.body.error.message).toContain('"huge.jpg"');
    expect(res.body.error.message).toContain('1.0 MB');
    // Reading stopped at the limit: at most that much was received, and all of it counts.
    const received = await chargedForLimit(user, 0, 1024 * 1024);
    const usage = (await limited.client.usage(user.token)).body;
    expect(usage.storage.usedBytes).toBe(0);
    expect(usage.transfer).toMatchObject({ inBytes: received, usedBytes: received });
  });

  it('upload › a small file then one over the limit › returns 413 and stores neither', async () => {
    const small = await makePhoto({ width: 300, height: 200 });
    const big = await makePhoto({ noise: true, width: 1600, height: 1200, seed: 2 });

    const { res, user } = await refusedOn([
      { name: 'small.jpg', data: small },
      { name: 'huge.jpg', data: big },
    ]);

    expect(res.status).toBe(413);
    await chargedForLimit(user, IN_POD ? 0 : small.length, small.length + 1024 * 1024);
  });

  it('upload › more pixels than PIXA_MAX_PIXELS › returns 413 image_too_large naming the file and the limit', async () => {
    const wide = await makePhoto({ format: 'png', width: 1200, height: 900 });
    const { res, user } = await refusedOn([{ name: 'wide.png', data: wide }]);

    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('image_too_large');
    expect(res.body.error.message).toContain('"wide.png"');
    expect(res.body.error.message).toContain('1200×900');
    expect(res.body.error.message).toContain('1,000,000 pixels');
    await expectChargedNotStored(limited, user, wide.length, 413);
  });

  it('upload › exactly PIXA_MAX_PIXELS and PIXA_MAX_FILES_PER_UPLOAD › is accepted', async () => {
    const user = await signedUpUser(limited.client);
    const files = await Promise.all(
      [1, 2, 3].map(async (seed) => ({
        name: `${seed}.jpg`,
        data: await makePhoto({ width: 1000, height: 1000, seed }),
      })),
    );

    const res = await limited.client.upload(user.token, files);

    expect(res.status).toBe(201);
    expect(res.body.images).toHaveLength(3);
  });

  it('upload › more files than PIXA_MAX_FILES_PER_UPLOAD › returns 413 and stores nothing', async () => {
    const files = await Promise.all(
      [1, 2, 3, 4].map(async (seed) => ({
        name: `${seed}.jpg`,
        data: await makePhoto({ width: 200, height: 200, seed }),
      })),
    );

    const { res, user } = await refusedOn(files);

    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('too_many_files');
    // The parser refuses the fourth part before any of its bytes: the first three were received. In a
    // pod, what the storage service had read of them when the gateway cut the body: the three small
    // files may still be unread in its socket when the connection is reset, and then nothing counts.
    const received = files.slice(0, 3).reduce((sum, file) => sum + file.data.length, 0);
    await chargedForLimit(user, IN_POD ? -1 : received - 1, received);
  });
});
