import { rm } from 'node:fs/promises';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { signedUpUser } from '../helpers/api.js';
import { makePhoto, sha256 } from '../helpers/photos.js';
import { offsetAfterCut, reservedBytes, sendAll, TUS, tus, tusChecksum } from '../helpers/tus.js';
import {
  EMBEDDED_ONLY,
  FILES_ONLY,
  manualClock,
  newDataDir,
  startApiServer,
  twoReplicas,
  type ApiServer,
} from './support/server.js';
import { imageRows, setUserQuotas } from './support/state.js';

const HOUR = 3_600_000;

let server: ApiServer;
beforeAll(async () => {
  server = await startApiServer();
});
afterAll(() => server?.close());

let seed = 9000;
/** A photo of a few hundred KB, so it can be sent in several chunks. */
const photo = () => makePhoto({ seed: seed++, width: 700, height: 500, noise: true });

describe('tus uploads', () => {
  it('tus › OpenAPI › documents the upload routes and the hash check', async () => {
    const doc = (await (await fetch(new URL('/api/openapi.json', server.url))).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(routes).toEqual(
      expect.arrayContaining([
        'POST /api/v1/uploads',
        'PATCH /api/v1/uploads/{id}',
        'DELETE /api/v1/uploads/{id}',
        'GET /api/v1/uploads/{id}/result',
        'POST /api/v1/images/check',
      ]),
    );
  });

  it('tus › OPTIONS › names the version, the extensions, sha256 checksums and the size limit', async () => {
    const res = await fetch(new URL('/api/v1/uploads', server.url), { method: 'OPTIONS' });

    expect(res.status).toBe(204);
    expect(res.headers.get('tus-version')).toBe('1.0.0');
    expect(res.headers.get('tus-extension')).toBe('creation,creation-with-upload,termination,expiration,checksum');
    expect(res.headers.get('tus-checksum-algorithm')).toBe('sha256');
    expect(Number(res.headers.get('tus-max-size'))).toBeGreaterThan(0);
  });

  it('tus › create, PATCH in chunks, HEAD › becomes the image, reservation shown then released', async () => {
    const { token, userId } = await signedUpUser(server.client);
    const client = tus(server.url, token);
    const data = await photo();

    const created = await client.create(data.length, { filename: 'beach.jpg' });
    expect(created.status).toBe(201);
    expect(created.headers.get('tus-resumable')).toBe('1.0.0');
    const location = created.headers.get('location')!;
    expect(location).toMatch(/^\/api\/v1\/uploads\/[0-9a-f-]{36}$/);
    expect(created.headers.get('upload-expires')).toBeTruthy();
    expect(await reservedBytes(server.url, token)).toEqual({ storage: data.length, transfer: data.length });

    const head = await client.head(location);
    expect(head.status).toBe(200);
    expect(head.headers.get('upload-offset')).toBe('0');
    expect(head.headers.get('upload-length')).toBe(String(data.length));
    expect(head.headers.get('cache-control')).toBe('no-store');

    const last = await sendAll(client, location, data);
    expect(last.headers.get('pixa-upload-state')).toBe('done');

    const result = await client.result(location);
    expect(result.status).toBe(200);
    const image = (await result.json()) as { id: string; filename: string; size: number; duplicate: boolean };
    expect(image).toMatchObject({ filename: 'beach.jpg', size: data.length, duplicate: false });
    expect(last.headers.get('pixa-image-id')).toBe(image.id);
    const original = await server.client.request<Buffer>('GET', `/api/v1/images/${image.id}/original`, { token });
    expect(sha256(original.body)).toBe(sha256(data));
    expect(await reservedBytes(server.url, token)).toEqual({ storage: 0, transfer: 0 });
    const usage = (await server.client.usage(token)).body;
    expect(usage.transfer.inBytes).toBe(data.length);
    const rows = await imageRows(server, userId);
    expect(usage.storage.usedBytes).toBe(rows[0]!.original_bytes + rows[0]!.thumbnail_bytes + rows[0]!.preview_bytes);
    // The parts are gone once the image is stored.
    const parts: string[] = [];
    for await (const object of server.store.list('uploads/')) parts.push(object.key);
    expect(parts).toEqual([]);
  });

  it('tus › creation-with-upload › the POST carries the first bytes', async () => {
    const { token } = await signedUpUser(server.client);
    const client = tus(server.url, token);
    const data = await photo();

    const created = await client.create(data.length, { filename: 'a.jpg' }, data.subarray(0, 1000));

    expect(created.status).toBe(201);
    expect(created.headers.get('upload-offset')).toBe('1000');
    const location = created.headers.get('location')!;
    await sendAll(client, location, data, 1000);
    expect((await client.result(location)).status).toBe(200);
  });

  it('tus › PATCH with a wrong Upload-Checksum › 460, nothing kept; the right one is accepted', async () => {
    const { token } = await signedUpUser(server.client);
    const client = tus(server.url, token);
    const data = await photo();
    const location = (await client.create(data.length)).headers.get('location')!;
    const chunk = data.subarray(0, 4096);

    const wrong = await client.patch(location, 0, chunk, { 'upload-checksum': tusChecksum(Buffer.from('other')) });

    expect(wrong.status).toBe(460);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('checksum_mismatch');
    expect((await client.head(location)).headers.get('upload-offset')).toBe('0');
    const right = await client.patch(location, 0, chunk, { 'upload-checksum': tusChecksum(chunk) });
    expect(right.status).toBe(204);
    expect(right.headers.get('upload-offset')).toBe('4096');
  });

  it('tus › PATCH at the wrong offset › 409 naming the real one', async () => {
    const { token } = await signedUpUser(server.client);
    const client = tus(server.url, token);
    const location = (await client.create(1000)).headers.get('location')!;

    const res = await client.patch(location, 10, Buffer.alloc(10));

    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('byte 0');
  });

  it('tus › a PATCH cut midway › keeps the bytes that arrived; HEAD tells, the rest resumes', async () => {
    const { token } = await signedUpUser(server.client);
    const client = tus(server.url, token);
    const data = await photo();
    const location = (await client.create(data.length)).headers.get('location')!;
    const half = Math.floor(data.length / 2);

    // Announce the whole file, send half, then cut the connection.
    await client.patchCut(location, data, half);
    const offset = await offsetAfterCut(client, location);

    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThanOrEqual(half);
    await sendAll(client, location, data, offset);
    const image = (await (await client.result(location)).json()) as { id: string };
    const original = await server.client.request<Buffer>('GET', `/api/v1/images/${image.id}/original`, { token });
    expect(sha256(original.body)).toBe(sha256(data));
  });

  it('tus › a PATCH longer than the rest of the upload › 413 read by the client, nothing kept', async () => {
    const { token } = await signedUpUser(server.client);
    const client = tus(server.url, token);
    const location = (await client.create(1000)).headers.get('location')!;

    const res = await client.patch(location, 0, Buffer.alloc(300_000, 3));

    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('upload_too_long');
    expect((await client.head(location)).headers.get('upload-offset')).toBe('0');
    expect((await client.patch(location, 0, Buffer.alloc(1000, 3))).headers.get('upload-offset')).toBe('1000');
  });

  it('tus › terminate › 204, the upload is gone and its reservation released', async () => {
    const { token } = await signedUpUser(server.client);
    const client = tus(server.url, token);
    const location = (await client.create(5000)).headers.get('location')!;
    await client.patch(location, 0, Buffer.alloc(1000, 1));
    expect(await reservedBytes(server.url, token)).toEqual({ storage: 5000, transfer: 5000 });

    const res = await client.remove(location);

    expect(res.status).toBe(204);
    expect((await client.head(location)).status).toBe(404);
    expect(await reservedBytes(server.url, token)).toEqual({ storage: 0, transfer: 0 });
  });

  it('tus › over the storage quota at creation › 413 with the JSON error, nothing reserved', async () => {
    const { token, userId } = await signedUpUser(server.client);
    await setUserQuotas(server, userId, { storage_quota_bytes: 100_000 });
    const client = tus(server.url, token);

    const res = await client.create(200_000);

    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('storage_quota_exceeded');
    expect(await reservedBytes(server.url, token)).toEqual({ storage: 0, transfer: 0 });
  });

  it('tus › over today’s transfer quota at creation › 429 with Retry-After; reservations count', async () => {
    const { token, userId } = await signedUpUser(server.client);
    await setUserQuotas(server, userId, { daily_transfer_bytes: 150_000 });
    const client = tus(server.url, token);
    expect((await client.create(100_000)).status).toBe(201);

    // The first upload holds 100,000 of the 150,000: a second of 100,000 does not fit.
    const res = await client.create(100_000);

    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBeTruthy();
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('transfer_quota_exceeded');
    expect(await reservedBytes(server.url, token)).toEqual({ storage: 100_000, transfer: 100_000 });
  });

  it('tus › an upload holding all of today’s transfer quota › still completes: its own hold is not counted twice', async () => {
    const { token, userId } = await signedUpUser(server.client);
    const data = await photo();
    await setUserQuotas(server, userId, { daily_transfer_bytes: data.length });
    const client = tus(server.url, token);
    const location = (await client.create(data.length)).headers.get('location')!;

    await sendAll(client, location, data);

    expect((await client.result(location)).status).toBe(200);
    const usage = (await server.client.usage(token)).body;
    expect(usage.transfer).toMatchObject({ inBytes: data.length, reservedBytes: 0 });
  });

  it('tus › held bytes take room › a multipart upload is refused before its body, saying nothing is free', async () => {
    const { token, userId } = await signedUpUser(server.client);
    await setUserQuotas(server, userId, { storage_quota_bytes: 100_000 });
    expect((await tus(server.url, token).create(100_000)).status).toBe(201);

    const res = await server.client.upload(token, [{ name: 'small.jpg', data: await photo(), type: 'image/jpeg' }]);

    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe('storage_quota_exceeded');
    expect(res.body.error.message).toMatch(/only 0\.0 MB of your 0\.1 MB are free/);
    expect((await server.client.usage(token)).body.transfer.inBytes).toBe(0);
  });

  it('tus › another account’s upload URL › 404 for HEAD, PATCH, DELETE and result', async () => {
    const owner = await signedUpUser(server.client);
    const other = await signedUpUser(server.client);
    const location = (await tus(server.url, owner.token).create(1000)).headers.get('location')!;
    const intruder = tus(server.url, other.token);

    expect((await intruder.head(location)).status).toBe(404);
    expect((await intruder.patch(location, 0, Buffer.alloc(10))).status).toBe(404);
    expect((await intruder.remove(location)).status).toBe(404);
    expect((await intruder.result(location)).status).toBe(404);
    expect((await tus(server.url, owner.token).head(location)).headers.get('upload-offset')).toBe('0');
  });

  it('tus › without a token › 401', async () => {
    const res = await fetch(new URL('/api/v1/uploads', server.url), {
      method: 'POST',
      headers: { ...TUS, 'upload-length': '10' },
    });
    expect(res.status).toBe(401);
  });

  it('tus › without Upload-Length or with a deferred one › 400', async () => {
    const { token } = await signedUpUser(server.client);
    const headers = { ...TUS, authorization: `Bearer ${token}` };
    const url = new URL('/api/v1/uploads', server.url);
    expect((await fetch(url, { method: 'POST', headers })).status).toBe(400);
    const deferred = await fetch(url, { method: 'POST', headers: { ...headers, 'upload-defer-length': '1' } });
    expect(deferred.status).toBe(400);
  });

  it('tus › a file that is not an image › the last PATCH ends it refused; result is the 415, reservation released', async () => {
    const { token } = await signedUpUser(server.client);
    const client = tus(server.url, token);
    const data = Buffer.from('just some text, not a photo at all'.repeat(100));
    const location = (await client.create(data.length, { filename: 'notes.txt' })).headers.get('location')!;

    const last = await sendAll(client, location, data);

    expect(last.headers.get('pixa-upload-state')).toBe('refused');
    const result = await client.result(location);
    expect(result.status).toBe(415);
    expect(((await result.json()) as { error: { code: string } }).error.code).toBe('unsupported_media_type');
    expect(await reservedBytes(server.url, token)).toEqual({ storage: 0, transfer: 0 });
  });

  it('tus › sha256 of a photo the account has › 200 with that image at once, nothing reserved', async () => {
    const { token } = await signedUpUser(server.client);
    const data = await photo();
    const uploaded = await server.client.upload(token, [{ name: 'first.jpg', data }]);

    const res = await tus(server.url, token).create(data.length, { filename: 'again.jpg', sha256: sha256(data) });

    expect(res.status).toBe(200);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.json()).toMatchObject({ id: uploaded.body.images[0]!.id, duplicate: true });
    expect(await reservedBytes(server.url, token)).toEqual({ storage: 0, transfer: 0 });
  });

  it('tus › bytes that do not match the announced sha256 › refused, nothing stored', async () => {
    const { token, userId } = await signedUpUser(server.client);
    const client = tus(server.url, token);
    const data = await photo();
    const location = (await client.create(data.length, { filename: 'x.jpg', sha256: 'ab'.repeat(32) })).headers.get(
      'location',
    )!;

    await sendAll(client, location, data);

    expect((await client.result(location)).status).toBe(400);
    expect(await imageRows(server, userId)).toEqual([]);
  });

  it('images › POST /api/v1/images/check › answers only the caller’s own hashes', async () => {
    const owner = await signedUpUser(server.client);
    const other = await signedUpUser(server.client);
    const data = await photo();
    await server.client.upload(owner.token, [{ name: 'a.jpg', data }]);
    const body = { sha256: [sha256(data).toUpperCase(), 'cd'.repeat(32)] };

    const mine = await server.client.request<{ known: string[] }>('POST', '/api/v1/images/check', {
      token: owner.token,
      json: body,
    });
    const theirs = await server.client.request<{ known: string[] }>('POST', '/api/v1/images/check', {
      token: other.token,
      json: body,
    });

    expect(mine.body.known).toEqual([sha256(data)]);
    expect(theirs.body.known).toEqual([]);
    const full = await server.client.request<{ known: string[] }>('POST', '/api/v1/images/check', {
      token: owner.token,
      json: { sha256: [...Array.from({ length: 4999 }, (_, i) => i.toString(16).padStart(64, '0')), sha256(data)] },
    });
    expect(full.status).toBe(200);
    expect(full.body.known).toEqual([sha256(data)]);
    const tooMany = await server.client.request('POST', '/api/v1/images/check', {
      token: owner.token,
      json: { sha256: Array.from({ length: 5001 }, () => 'ab'.repeat(32)) },
    });
    expect(tooMany.status).toBe(400);
  });
});

describe.skipIf(EMBEDDED_ONLY)('tus uploads across replicas and time', () => {
  const clock = manualClock(Date.now());
  const replicas = twoReplicas(clock);

  // twoReplicas shares one data directory: on a database or store server each would get its own.
  it.skipIf(FILES_ONLY)('tus › started on one replica › resumed and finished on the other', async () => {
    const { token } = await signedUpUser(replicas.first.client);
    const data = await photo();
    const first = tus(replicas.first.url, token);
    const second = tus(replicas.second.url, token);
    const location = (await first.create(data.length)).headers.get('location')!;
    const half = Math.floor(data.length / 2);
    await first.patch(location, 0, data.subarray(0, half));

    expect((await second.head(location)).headers.get('upload-offset')).toBe(String(half));
    await sendAll(second, location, data, half);

    expect((await first.result(location)).status).toBe(200);
  });

  it('tus › the server restarted mid-upload › HEAD gives the offset and the upload finishes', async () => {
    const dataDir = await newDataDir();
    let before: ApiServer | undefined = await startApiServer({ dataDir });
    let after: ApiServer | undefined;
    try {
      const { token } = await signedUpUser(before.client);
      const data = await photo();
      const location = (await tus(before.url, token).create(data.length)).headers.get('location')!;
      const half = Math.floor(data.length / 2);
      expect((await tus(before.url, token).patch(location, 0, data.subarray(0, half))).status).toBe(204);
      await before.close();
      before = undefined;

      after = await startApiServer({ dataDir });
      const client = tus(after.url, token);

      expect((await client.head(location)).headers.get('upload-offset')).toBe(String(half));
      await sendAll(client, location, data, half);
      const image = (await (await client.result(location)).json()) as { id: string };
      const original = await after.client.request<Buffer>('GET', `/api/v1/images/${image.id}/original`, { token });
      expect(sha256(original.body)).toBe(sha256(data));
    } finally {
      await before?.close();
      await after?.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('tus › past PIXA_UPLOAD_EXPIRY_HOURS › the sweeper removes it and its reservation', async () => {
    const user = await signedUpUser(replicas.first.client);
    const location = (await tus(replicas.first.url, user.token).create(5000)).headers.get('location')!;
    await tus(replicas.first.url, user.token).patch(location, 0, Buffer.alloc(1000, 2));

    clock.advance(25 * HOUR);
    // Both replicas sweep (one after the other: in-process SQLite connections would block each other's
    // thread): the upload is removed, and what it held given back, once.
    const removedByFirst = await replicas.first.pixa.uploads.sweepExpired(HOUR);
    const removedBySecond = await replicas.second.pixa.uploads.sweepExpired(HOUR);

    expect(removedByFirst).toBeGreaterThanOrEqual(1);
    expect(removedBySecond).toBe(0);
    // A day later the sign-in has expired too.
    const { token } = (await replicas.first.client.login(user.username, user.password)).body;
    expect((await tus(replicas.first.url, token).head(location)).status).toBe(404);
    expect(await reservedBytes(replicas.first.url, token)).toMatchObject({ storage: 0 });
    const parts: string[] = [];
    for await (const object of replicas.first.store.list('uploads/')) parts.push(object.key);
    expect(parts.filter((key) => key.includes(location.split('/').pop()!))).toEqual([]);
  });
});

describe('tus uploads with tus-js-client', () => {
  it('tus › the reference client › sends the file in chunks and it becomes an image', async () => {
    const { Upload } = await import('tus-js-client');
    const { token } = await signedUpUser(server.client);
    const data = await photo();

    const location = await new Promise<string>((resolve, reject) => {
      const upload = new Upload(data, {
        endpoint: new URL('/api/v1/uploads', server.url).toString(),
        headers: { authorization: `Bearer ${token}` },
        metadata: { filename: 'from-tus-js-client.jpg' },
        chunkSize: 100 * 1024,
        retryDelays: [],
        onError: reject,
        onSuccess: () => resolve(new URL(upload.url!).pathname),
      });
      upload.start();
    });

    const result = await tus(server.url, token).result(location);
    expect(result.status).toBe(200);
    expect(await result.json()).toMatchObject({ filename: 'from-tus-js-client.jpg', size: data.length });
  });
});
