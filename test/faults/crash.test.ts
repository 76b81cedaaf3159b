import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { afterEach, describe, expect, test } from 'vitest';

import { openDatabase, type Database } from '../../src/db/database.js';
import { sweepOrphans } from '../../src/modules/images/sweeper.js';
import { createFsStore } from '../../src/storage/fs/fs-store.js';
import { apiClient, signedUpUser } from '../helpers/api.js';
import { makePhoto, sha256 } from '../helpers/photos.js';
import { ROOT } from '../helpers/pod.js';
import { startChildServer, type ChildServer } from './support/child-server.js';
import { checkIntegrity, filesUnder, NO_PROBLEMS, problemsOf } from './support/integrity.js';
import { addressOf, filePart, multipartBody, newBoundary, uploadHead } from './support/raw-http.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function started(dataDir: string, env?: Record<string, string>): Promise<ChildServer> {
  const server = await startChildServer(dataDir, env);
  cleanups.push(() => server.kill());
  return server;
}

async function openData(dataDir: string): Promise<Database> {
  const database = await openDatabase(`sqlite://${path.join(dataDir, 'pixa.db')}`);
  cleanups.push(() => database.close());
  return database;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Sends the head and half the body of an upload, and leaves the connection open. */
async function halfUpload(url: string, token: string, data: Buffer): Promise<net.Socket> {
  const boundary = newBoundary();
  const body = multipartBody(boundary, [filePart('half.jpg', data, 'image/jpeg')]);
  const socket = net.connect(addressOf(url));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write(uploadHead(url, token, boundary, body.length));
  socket.write(body.subarray(0, Math.floor(body.length / 2)));
  return socket;
}

describe('crash of the server process', () => {
  test('SIGKILL mid-upload, restart › no row without its objects, counters exact, orphans swept', async () => {
    const dataDir = await tempDir('pixa-crash-');
    let server = await started(dataDir);
    let api = apiClient(server.url);
    const user = await signedUpUser(api, 'crash');
    const kept = await makePhoto({ width: 600, height: 400, seed: 1701 });
    expect((await api.upload(user.token, [{ name: 'kept.jpg', data: kept }])).status).toBe(201);
    const big = await Promise.all(
      [1, 2, 3, 4, 5, 6].map((i) => makePhoto({ width: 1600, height: 1200, noise: true, seed: 1710 + i })),
    );
    const objects = path.join(dataDir, 'objects');
    const complete = async () => (await filesUnder(objects)).filter((key) => !key.startsWith('.tmp/')).length;
    const before = await complete();

    // One upload held half-sent (so a staging file surely exists), and several racing to be written.
    const socket = await halfUpload(server.url, user.token, big[0]!);
    cleanups.push(async () => socket.destroy());
    const racing = big
      .slice(1)
      .map((data, i) => api.upload(user.token, [{ name: `big-${i}.jpg`, data }]).catch((error: unknown) => error));
    // Kill as soon as the first object of a racing upload is in place: its row is not written yet.
    await waitFor('objects of the racing uploads', async () => (await complete()) > before);
    await server.kill();
    const answers = await Promise.all(racing);

    const database = await openData(dataDir);
    const afterCrash = await checkIntegrity(database.db, dataDir);
    console.info(
      `after SIGKILL: ${afterCrash.rows} rows, ${afterCrash.objectsWithoutRow.length} orphaned objects, ` +
        `${afterCrash.temp.length} temp files; ${answers.filter((a) => !(a instanceof Error)).length} uploads answered`,
    );
    // The invariants a crash must never break: every row has its objects, and the counters are exact.
    expect(afterCrash.rowsWithoutObjects).toEqual([]);
    expect(afterCrash.sizeMismatches).toEqual([]);
    expect(afterCrash.storageMismatches).toEqual([]);
    expect(afterCrash.transferMismatches).toEqual([]);

    server = await started(dataDir);
    api = apiClient(server.url);
    const login = await api.login(user.username, user.password);
    expect(login.status).toBe(200);
    const report = await sweepOrphans(database.db, createFsStore(objects), 0);
    const swept = await checkIntegrity(database.db, dataDir);
    expect(report.orphans.sort()).toEqual(afterCrash.objectsWithoutRow);
    expect(swept.objectsWithoutRow).toEqual([]);
    expect(swept.rowsWithoutObjects).toEqual([]);
    expect(swept.storageMismatches).toEqual([]);
    expect(swept.transferMismatches).toEqual([]);
    expect(swept.temp.filter((file) => file.startsWith('objects/'))).toEqual([]);
    // Every photo the restarted server lists opens, byte for byte for the one stored before the crash.
    const list = await api.list(login.body.token);
    for (const image of list.body.items) expect((await api.fetchMedia(image.urls.thumbnail)).status).toBe(200);
    const keptImage = list.body.items.find((image) => image.filename === 'kept.jpg')!;
    expect(sha256((await api.fetchMedia(keptImage.urls.original)).body)).toBe(sha256(kept));
  }, 60_000);

  test('SIGKILL mid-upload › the staging files of the dead process are removed by a restart and a sweep', async () => {
    const dataDir = await tempDir('pixa-crash-tmp-');
    let server = await started(dataDir);
    const api = apiClient(server.url);
    const user = await signedUpUser(api, 'staging');
    const socket = await halfUpload(
      server.url,
      user.token,
      await makePhoto({ width: 1600, height: 1200, noise: true }),
    );
    cleanups.push(async () => socket.destroy());
    await waitFor('a staging file', async () => (await filesUnder(path.join(dataDir, 'tmp'))).length > 0);

    await server.kill();
    server = await started(dataDir);
    const database = await openData(dataDir);
    await sweepOrphans(database.db, createFsStore(path.join(dataDir, 'objects')), 0);

    expect(await filesUnder(path.join(dataDir, 'tmp'))).toEqual([]);
  }, 60_000);

  test('SIGTERM with uploads in flight › every one finishes with 201 and the process exits 0', async () => {
    const dataDir = await tempDir('pixa-term-');
    const server = await started(dataDir);
    const api = apiClient(server.url);
    const user = await signedUpUser(api, 'term');
    const photos = await Promise.all(
      [1, 2, 3, 4].map((i) => makePhoto({ width: 2000, height: 1500, noise: true, seed: 1720 + i })),
    );

    const uploads = photos.map((data, i) => api.upload(user.token, [{ name: `t-${i}.jpg`, data }]));
    await waitFor('uploads to arrive', async () => (await filesUnder(path.join(dataDir, 'tmp'))).length > 0);
    server.process.child.kill('SIGTERM');
    const results = await Promise.all(uploads);
    const code = await server.process.exited;

    expect(results.map((r) => r.status)).toEqual([201, 201, 201, 201]);
    expect(code).toBe(0);
    const database = await openData(dataDir);
    const report = await checkIntegrity(database.db, dataDir);
    expect(report.rows).toBe(4);
    expect(problemsOf(report)).toEqual(NO_PROBLEMS);
  }, 60_000);
});

/** Writes `u/i/original` through the fs store in a separate process, slowly, and says when it is under way. */
const WRITER = (storeModule: string) => `
  import { Readable } from 'node:stream';
  const { createFsStore } = await import(${JSON.stringify(storeModule)});
  const store = createFsStore(process.argv[1]);
  let sent = 0;
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  const body = new Readable({
    read() {
      if (sent === 4) process.stdout.write('writing\\n');
      sent++;
      // 64 KB every 5 ms: the write lasts far longer than the test waits.
      setTimeout(() => this.push(sent > 100_000 ? null : chunk), 5);
    },
  });
  await store.put(process.argv[2], body);
  process.stdout.write('done\\n');
`;

describe('crash of a writer in the file store', () => {
  test('kill -9 between write and rename › the key holds the old object or none, and cleanup removes the rest', async () => {
    const root = await tempDir('pixa-fs-kill-');
    const store = createFsStore(root);
    const old = Buffer.from('the complete old object\n'.repeat(1000));
    await store.put('u/i/original', old);
    const storeModule = pathToFileURL(path.join(ROOT, 'dist', 'storage', 'fs', 'fs-store.js')).href;

    for (const key of ['u/i/original', 'u/j/original']) {
      const child = spawn(process.execPath, ['--input-type=module', '-e', WRITER(storeModule), root, key], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      cleanups.push(async () => child.kill('SIGKILL'));
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (data: Buffer) => data.toString().includes('writing') && resolve());
        child.once('exit', (code) => reject(new Error(`writer exited early with ${code}`)));
      });
      await waitFor('the temp file to grow', async () => (await filesUnder(path.join(root, '.tmp'))).length > 0);
      child.kill('SIGKILL');
      await exited;
    }

    expect(
      createHash('sha256')
        .update(await readFile(path.join(root, 'u', 'i', 'original')))
        .digest('hex'),
    ).toBe(sha256(old));
    expect(await store.stat('u/j/original')).toBeUndefined();
    expect((await filesUnder(path.join(root, '.tmp'))).length).toBe(2);
    expect(await store.cleanupIncomplete(0)).toBe(2);
    expect(await filesUnder(path.join(root, '.tmp'))).toEqual([]);
    const keys: string[] = [];
    for await (const object of store.list('')) keys.push(object.key);
    expect(keys).toEqual(['u/i/original']);
  }, 30_000);
});
