import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { afterEach, describe, expect, it } from 'vitest';

import { signedUpUser } from '../helpers/api.js';
import { s3TestUrl } from '../helpers/object-stores.js';
import { makePhoto } from '../helpers/photos.js';
import { sendAll, tus } from '../helpers/tus.js';
import { FILES_ONLY, IN_POD, startTestServer, type TestServer } from '../helpers/server.js';
import { addressOf, filePart, multipartBody, newBoundary, uploadHead, type RawResponse } from './support/raw-http.js';

const MB = 1024 * 1024;
const run = promisify(execFile);
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function server(env: Record<string, string>, dataDir?: string): Promise<TestServer> {
  const started = await startTestServer(env, { dataDir });
  cleanups.push(() => started.close());
  return started;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Bytes of the staging files on disk now. */
async function staged(dataDir: string): Promise<number[]> {
  const dir = path.join(dataDir, 'tmp');
  const names = await readdir(dir).catch(() => [] as string[]);
  const sizes = await Promise.all(
    names.map((name) =>
      stat(path.join(dir, name)).then(
        (s) => s.size,
        () => 0,
      ),
    ),
  );
  return sizes;
}

/**
 * An upload sent by hand: the head and the first `sendBytes` of its body now, the rest on `finish()`;
 * `response` resolves with whatever the server answers, whenever it does.
 */
function partialUpload(url: string, token: string, data: Buffer, sendBytes: number) {
  const boundary = newBoundary();
  const body = multipartBody(boundary, [filePart('big.jpg', data, 'image/jpeg')]);
  const socket = net.connect(addressOf(url));
  socket.on('error', () => undefined);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const response = new Promise<RawResponse>((resolve) => {
    const done = () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      resolve({
        status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0),
        head: split === -1 ? text : text.slice(0, split),
        body: split === -1 ? '' : text.slice(split + 4),
        ended: 'closed',
      });
    };
    socket.on('close', done);
  });
  const answered = () => chunks.length > 0;
  socket.write(uploadHead(url, token, boundary, body.length));
  socket.write(body.subarray(0, sendBytes));
  return {
    response,
    answered,
    finish: () => void socket.write(body.subarray(sendBytes)),
    abort: () => socket.destroy(),
  };
}

const errorOf = (response: RawResponse) =>
  (JSON.parse(response.body) as { error: { code: string; message: string } }).error;

describe.skipIf(IN_POD || FILES_ONLY)('upload limits of one process', () => {
  it('staging budget › uploads in progress hold the budget › another account gets 503 with Retry-After, then room again', async () => {
    const [big, small] = await Promise.all([
      makePhoto({ width: 1400, height: 1000, noise: true, seed: 2301 }),
      makePhoto({ width: 600, height: 400, noise: true, seed: 2302 }),
    ]);
    const held = Math.floor(big.length * 0.8);
    // Room for what the first upload holds and half of the second.
    const budgetMb = (held + small.length / 2) / MB;
    const pixa = await server({ PIXA_STAGING_MB: budgetMb.toFixed(6) });
    const [alice, bob] = [await signedUpUser(pixa.client, 'alice'), await signedUpUser(pixa.client, 'bob')];

    const first = partialUpload(pixa.url, alice.token, big, held);
    await waitFor('the first upload to be staged', async () =>
      (await staged(pixa.dataDir)).some((s) => s >= held - 64 * 1024),
    );
    const refused = await pixa.client.upload(bob.token, [{ name: 'small.jpg', data: small }]);

    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('server_busy');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    first.abort();
    await waitFor('the first upload to end', async () => (await staged(pixa.dataDir)).length === 0);
    expect((await pixa.client.upload(bob.token, [{ name: 'small.jpg', data: small }])).status).toBe(201);
  });

  it('staging budget › a resumable upload’s PATCH takes its share › 503 with Retry-After keeping nothing, then room again', async () => {
    const [big, small] = await Promise.all([
      makePhoto({ width: 1400, height: 1000, noise: true, seed: 2303 }),
      makePhoto({ width: 600, height: 400, noise: true, seed: 2304 }),
    ]);
    const held = Math.floor(big.length * 0.8);
    const budgetMb = (held + small.length / 2) / MB;
    const pixa = await server({ PIXA_STAGING_MB: budgetMb.toFixed(6) });
    const [alice, bob] = [await signedUpUser(pixa.client, 'alice'), await signedUpUser(pixa.client, 'bob')];
    const resumable = tus(pixa.url, bob.token);
    const location = (await resumable.create(small.length, { filename: 'small.jpg' })).headers.get('location')!;

    const first = partialUpload(pixa.url, alice.token, big, held);
    await waitFor('the first upload to be staged', async () =>
      (await staged(pixa.dataDir)).some((s) => s >= held - 64 * 1024),
    );
    const refused = await resumable.patch(location, 0, small);

    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('server_busy');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await resumable.head(location)).headers.get('upload-offset')).toBe('0');
    first.abort();
    await waitFor('the first upload to end', async () => (await staged(pixa.dataDir)).length === 0);
    // What the refused PATCH took of the budget was given back: twice its size goes through now.
    await sendAll(resumable, location, small, 0, Math.ceil(small.length / 3));
    expect((await resumable.result(location)).status).toBe(200);
    expect(await staged(pixa.dataDir)).toEqual([]);
  });

  it('uploads per account › a second upload waits unread for the first, then goes through', async () => {
    const photos = await Promise.all(
      [2311, 2312].map((seed) => makePhoto({ width: 900, height: 700, noise: true, seed })),
    );
    const pixa = await server({ PIXA_UPLOADS_PER_ACCOUNT: '1' });
    const alice = await signedUpUser(pixa.client, 'alice');

    const first = partialUpload(pixa.url, alice.token, photos[0]!, Math.floor(photos[0]!.length / 2));
    await waitFor('the first upload to be staged', async () => (await staged(pixa.dataDir)).length === 1);
    const second = partialUpload(pixa.url, alice.token, photos[1]!, photos[1]!.length);
    // The second sent everything, yet nothing of it is staged while the first runs.
    const other = await signedUpUser(pixa.client, 'bob');
    expect(
      (await pixa.client.upload(other.token, [{ name: 'o.jpg', data: await makePhoto({ seed: 2313 }) }])).status,
    ).toBe(201);
    expect(await staged(pixa.dataDir)).toHaveLength(1);
    expect(second.answered()).toBe(false);

    first.finish();
    second.finish();
    expect((await first.response).status).toBe(201);
    expect((await second.response).status).toBe(201);
    expect((await pixa.client.list(alice.token)).body.items).toHaveLength(2);
  });

  it('transfer quota › counted as bytes arrive › 429 before the body is all sent, nothing staged, what arrived charged', async () => {
    const photo = await makePhoto({ width: 2200, height: 1600, noise: true, seed: 2321 });
    expect(photo.length).toBeGreaterThan(1.5 * MB);
    const pixa = await server({ PIXA_DAILY_TRANSFER_MB: '1' });
    const alice = await signedUpUser(pixa.client, 'alice');

    // Well past the quota is sent, not the whole file: the answer must come without the rest.
    const upload = partialUpload(pixa.url, alice.token, photo, Math.floor(1.3 * MB));
    const response = await upload.response;

    expect(response.status).toBe(429);
    expect(errorOf(response).code).toBe('transfer_quota_exceeded');
    expect(response.head).toMatch(/retry-after: \d+/i);
    expect(await staged(pixa.dataDir)).toEqual([]);
    // Reading stopped at the chunk that crossed the quota: that chunk was received, so the day is used up.
    const used = (await pixa.client.usage(alice.token)).body.transfer;
    expect(used.inBytes).toBeGreaterThan(MB);
    expect(used.inBytes).toBeLessThanOrEqual(Math.floor(1.3 * MB));
    expect((await pixa.client.list(alice.token)).body.items).toEqual([]);
    const next = await pixa.client.upload(alice.token, [{ name: 'next.jpg', data: photo }]);
    expect(next.status).toBe(429);
    expect(next.body.error.message).toContain('this upload needs 1 KB');
    expect((await pixa.client.usage(alice.token)).body.transfer).toEqual(used);
  });

  it('a store that refuses writes (507 from S3) › 507 insufficient_storage saying the server is out of space', async () => {
    const refusing = http.createServer((request, response) => {
      request.resume();
      if (request.method === 'PUT' || request.method === 'POST') {
        response.writeHead(507, { 'content-type': 'application/xml' });
        response.end('<?xml version="1.0"?><Error><Code>InsufficientStorage</Code><Message>full</Message></Error>');
      } else {
        response.writeHead(200).end();
      }
    });
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => refusing.close(resolve)));
    const url = new URL(s3TestUrl(`http://127.0.0.1:${(refusing.address() as net.AddressInfo).port}`, 'full'));
    url.searchParams.set('maxAttempts', '1');
    const pixa = await server({ PIXA_STORAGE_URL: url.toString() });
    const alice = await signedUpUser(pixa.client, 'alice');

    const res = await pixa.client.upload(alice.token, [{ name: 'a.jpg', data: await makePhoto({ seed: 2331 }) }]);

    expect(res.status).toBe(507);
    expect(res.body.error.code).toBe('insufficient_storage');
    expect(res.body.error.message).toMatch(/out of storage space/);
    expect(await staged(pixa.dataDir)).toEqual([]);
  });
});

/** A 24 MB tmpfs as the data directory, as in the report: root only. */
async function smallDisk(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const dir = await mkdtemp(path.join(tmpdir(), 'pixa-full-'));
  try {
    await run('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', dir]);
  } catch {
    await rm(dir, { recursive: true, force: true });
    return undefined;
  }
  cleanups.push(async () => {
    await run('umount', [dir]);
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

describe.skipIf(IN_POD || FILES_ONLY)('a full data directory', () => {
  it('out of space › 507 insufficient_storage; /metrics shows free space, /readyz says so; fine again once there is room', async (context) => {
    const dir = await smallDisk();
    if (!dir) return context.skip('needs root to mount a 24 MB tmpfs');
    const pixa = await server({ PIXA_MIN_FREE_MB: '4' }, dir);
    const alice = await signedUpUser(pixa.client, 'alice');
    const photo = await makePhoto({ width: 1600, height: 1200, noise: true, seed: 2341 });
    const ready = async () => (await fetch(new URL('/readyz', pixa.url))).json() as Promise<Record<string, string>>;
    expect(await ready()).toMatchObject({ status: 'ready', diskSpace: 'ok' });

    // Fill the disk to within less than the photo.
    const free = async () => {
      const metrics = await (await fetch(new URL('/metrics', pixa.url))).text();
      return Number(/^pixa_disk_free_bytes\{dir="staging"\} (\d+)/m.exec(metrics)?.[1]);
    };
    const filler = path.join(dir, 'filler.bin');
    await writeFile(filler, Buffer.alloc(Math.max(0, (await free()) - Math.floor(photo.length / 3))));
    expect(await free()).toBeLessThan(photo.length);

    const res = await pixa.client.upload(alice.token, [{ name: 'big.jpg', data: photo }]);

    expect(res.status).toBe(507);
    expect(res.body.error.code).toBe('insufficient_storage');
    expect(res.body.error.message).toMatch(/out of storage space/);
    expect(await staged(dir)).toEqual([]);
    const notReady = await fetch(new URL('/readyz', pixa.url));
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toMatchObject({ diskSpace: 'unavailable', database: 'ok' });

    await rm(filler);
    expect((await pixa.client.upload(alice.token, [{ name: 'big.jpg', data: photo }])).status).toBe(201);
    expect(await ready()).toMatchObject({ status: 'ready', diskSpace: 'ok' });
  });
});
