import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { signedUpUser } from '../helpers/api.js';
import { announceSkip, DIALECTS, type TestDatabase } from '../helpers/databases.js';
import { s3TestUrl } from '../helpers/object-stores.js';
import { makePhoto, sha256 } from '../helpers/photos.js';
import { freePort } from '../helpers/pod.js';
import { IN_POD, startTestServer, type TestServer } from '../helpers/server.js';
import { integrityOf, NO_PROBLEMS, problemsOf } from './support/integrity.js';
import { addressOf, filePart, multipartBody, newBoundary, uploadHead } from './support/raw-http.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';
import net from 'node:net';

const require = createRequire(import.meta.url);

const s3rverMissing = ((): string | undefined => {
  try {
    require.resolve('s3rver');
    return undefined;
  } catch {
    return 'object store down skipped: npm package s3rver is not installed';
  }
})();
if (s3rverMissing) console.warn(s3rverMissing);

/** Polls until `check` is true; returns how long it took. A guard against hangs, never a speed target. */
async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return Date.now() - started;
}

const readyz = async (url: string) => {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, string> };
};

/** Times one call, for the figures printed beside the 503s. */
async function timed<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = Date.now();
  const result = await work();
  return { result, ms: Date.now() - started };
}

/** s3rver in a child process on a fixed port and directory, so it can be stopped and started again as it was. */
function s3rver(port: number, directory: string) {
  let child: ChildProcess | undefined;
  const script = `
    const S3rver = require(${JSON.stringify(require.resolve('s3rver'))});
    new S3rver({ port: ${port}, address: '127.0.0.1', silent: true, directory: process.argv[1],
      configureBuckets: [{ name: 'pixa' }] })
      .run().then(() => console.log('s3rver up'));`;
  return {
    async start() {
      const proc = spawn(process.execPath, ['--openssl-legacy-provider', '-e', script, directory], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = proc;
      await new Promise<void>((resolve, reject) => {
        let output = '';
        proc.stdout!.on('data', (data: Buffer) => {
          output += data.toString();
          if (output.includes('s3rver up')) resolve();
        });
        proc.stderr!.on('data', (data: Buffer) => (output += data.toString()));
        proc.once('exit', (code) => reject(new Error(`s3rver exited with ${code}: ${output}`)));
      });
    },
    async stop() {
      const proc = child;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** Every object key in the store against the rows: each row's three objects exist; list what has no row. */
async function storeAgainstRows(server: TestServer) {
  const keys = new Set<string>();
  for await (const object of server.store.list('')) keys.add(object.key);
  const rows = await server.db.selectFrom('images').select('object_prefix').execute();
  const expected = rows.flatMap((row) =>
    ['original', 'thumb.webp', 'preview.webp'].map((v) => `${row.object_prefix}${v}`),
  );
  return {
    missing: expected.filter((key) => !keys.has(key)),
    orphans: [...keys].filter((key) => !expected.includes(key)),
  };
}

// Embedded only: the cases expect one process's /readyz (database, objectStore); a pod's gateway names
// the services instead, and `pixa migrate` for a pod cannot go through the database proxy.
describe.skipIf(s3rverMissing || IN_POD)('object store down or slow (s3rver behind a proxy)', () => {
  let dir: string;
  let store: ReturnType<typeof s3rver>;
  let proxy: TcpProxy;
  let server: TestServer;
  let api: TestServer['client'];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pixa-s3-down-'));
    const port = await freePort();
    store = s3rver(port, dir);
    await store.start();
    proxy = await startTcpProxy({ host: '127.0.0.1', port });
    const url = new URL(s3TestUrl(`http://127.0.0.1:${proxy.port}`, 'faults'));
    // Short timeouts, so that a hung store turns into a 503 within seconds.
    url.searchParams.set('connectTimeoutMs', '1000');
    url.searchParams.set('requestTimeoutMs', '2000');
    url.searchParams.set('maxAttempts', '2');
    server = await startTestServer({ PIXA_STORAGE_URL: url.toString() });
    api = server.client;
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await proxy?.close();
    await store?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('store › stopped mid-run, then started again on its port › 503s and /readyz fails, then recovery without a restart', async () => {
    const user = await signedUpUser(api, 'storedown');
    const [before, during] = [await makePhoto({ seed: 1801 }), await makePhoto({ seed: 1802 })];
    const first = await api.upload(user.token, [{ name: 'before.jpg', data: before }]);
    expect(first.status).toBe(201);
    const image = first.body.images[0]!;
    const usage = (await api.usage(user.token)).body;

    await store.stop();

    const upload = await timed(() => api.upload(user.token, [{ name: 'during.jpg', data: during }]));
    const download = await timed(() => api.fetchMedia(image.urls.original));
    const probe = await readyz(server.url);
    console.info(`store down: upload 503 after ${upload.ms} ms, download after ${download.ms} ms`);
    expect(upload.result.status).toBe(503);
    expect(upload.result.body.error.code).toBe('service_unavailable');
    expect(upload.result.headers.get('retry-after')).toBeTruthy();
    expect(download.result.status).toBe(503);
    expect(probe).toEqual({
      status: 503,
      body: { status: 'not_ready', database: 'ok', objectStore: 'unavailable', diskSpace: 'ok' },
    });
    expect((await api.list(user.token)).body.items.map((i) => i.id)).toEqual([image.id]);
    expect((await api.usage(user.token)).body.storage).toEqual(usage.storage);

    await store.start();

    const recoveredAfter = await waitUntil('readiness', async () => (await readyz(server.url)).status === 200);
    console.info(`store back: ready again after ${recoveredAfter} ms`);
    const again = await api.upload(user.token, [{ name: 'during.jpg', data: during }]);
    expect(again.status).toBe(201);
    expect(sha256((await api.fetchMedia(image.urls.original)).body)).toBe(sha256(before));
    expect(sha256((await api.fetchMedia(again.body.images[0]!.urls.original)).body)).toBe(sha256(during));
    expect(await storeAgainstRows(server)).toEqual({ missing: [], orphans: [] });
  }, 60_000);

  test('store › hangs without answering › 503 within its timeouts and /readyz fails; recovery when it answers', async () => {
    const user = await signedUpUser(api, 'storeslow');
    const photo = await makePhoto({ seed: 1803 });

    proxy.blackhole();

    const probe = await timed(() => readyz(server.url));
    const upload = await timed(() => api.upload(user.token, [{ name: 'slow.jpg', data: photo }]));
    console.info(`store hung: /readyz answered after ${probe.ms} ms, upload after ${upload.ms} ms`);
    expect(probe.result.status).toBe(503);
    expect(probe.result.body.objectStore).toBe('unavailable');
    expect(upload.result.status).toBe(503);
    expect((await api.list(user.token)).body.items).toEqual([]);

    await proxy.up();

    await waitUntil('readiness', async () => (await readyz(server.url)).status === 200);
    expect((await api.upload(user.token, [{ name: 'slow.jpg', data: photo }])).status).toBe(201);
    expect((await storeAgainstRows(server)).missing).toEqual([]);
  }, 60_000);
});

for (const dialect of DIALECTS.filter((d) => d.name !== 'sqlite')) {
  announceSkip(`database down (${dialect.name})`, dialect);

  describe.skipIf(dialect.skipReason || IN_POD)(`database down (${dialect.name} behind a proxy)`, () => {
    let database: TestDatabase;
    let proxy: TcpProxy;
    let server: TestServer;
    let api: TestServer['client'];

    beforeAll(async () => {
      database = await dialect.createDatabase();
      const url = new URL(database.url);
      proxy = await startTcpProxy({
        host: url.hostname,
        port: Number(url.port || (dialect.name === 'mysql' ? 3306 : 5432)),
      });
      url.host = `127.0.0.1:${proxy.port}`;
      server = await startTestServer({ PIXA_DATABASE_URL: url.toString() });
      api = server.client;
    }, 60_000);
    afterAll(async () => {
      await server?.close();
      await proxy?.close();
      await database?.drop();
    });

    test('database › unreachable › 503 at once and /readyz fails; recovery without a restart; nothing half-written', async () => {
      const user = await signedUpUser(api, 'dbdown');
      const first = await api.upload(user.token, [{ name: 'before.jpg', data: await makePhoto({ seed: 1901 }) }]);
      expect(first.status).toBe(201);
      const photo = await makePhoto({ width: 1600, height: 1200, noise: true, seed: 1902 });

      // An upload under way when the database goes: its head is read and checked, its body still coming.
      const boundary = newBoundary();
      const body = multipartBody(boundary, [filePart('during.jpg', photo, 'image/jpeg')]);
      const socket = net.connect(addressOf(server.url));
      socket.on('error', () => undefined);
      let answer = '';
      socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
      const answered = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.write(uploadHead(server.url, user.token, boundary, body.length));
      socket.write(body.subarray(0, body.length / 2));
      await new Promise((resolve) => setTimeout(resolve, 500));

      await proxy.down();

      socket.write(body.subarray(body.length / 2));
      const list = await timed(() => api.list(user.token));
      const login = await timed(() => api.login(user.username, user.password));
      const probe = await readyz(server.url);
      await answered;
      console.info(`database down: list 503 after ${list.ms} ms, sign-in after ${login.ms} ms`);
      expect(answer).toMatch(/^HTTP\/1\.1 503/);
      expect(list.result.status).toBe(503);
      expect(login.result.status).toBe(503);
      expect(probe.status).toBe(503);
      expect(probe.body.database).toBe('unavailable');

      await proxy.up();

      await waitUntil('readiness', async () => (await readyz(server.url)).status === 200);
      expect((await api.list(user.token)).body.items.map((i) => i.id)).toEqual([first.body.images[0]!.id]);
      expect((await api.upload(user.token, [{ name: 'during.jpg', data: photo }])).status).toBe(201);
      expect(problemsOf(await integrityOf(server))).toEqual(NO_PROBLEMS);
    }, 60_000);
  });
}
