import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { openDatabase, type Database } from '../../src/db/database.js';
import { sweepOrphans } from '../../src/modules/images/sweeper.js';
import { SERVICE_NAMES } from '../../src/config/service-table.js';
import { createObjectStore } from '../../src/storage/create-store.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { DIALECTS, type TestDatabase } from '../helpers/databases.js';
import { makePhoto, sha256 } from '../helpers/photos.js';
import { ensureBuilt, freePort, freePortBlock, ROOT } from '../helpers/pod.js';

const REPLICAS = 3;
const USERS = 4;
const PHOTOS_PER_USER = 5;
/** Uploads done, across all users, when one replica is killed: the run is then in full swing. */
const KILL_AFTER_UPLOADS = 6;
const KILLED_REPLICA = 1;

/** Why this suite cannot run here, or undefined when it can. Installs HAProxy when it is missing and we may. */
function unavailableReason(): string | undefined {
  if (!DIALECTS.some((dialect) => dialect.name !== 'sqlite' && !dialect.skipReason)) {
    return 'cluster skipped: it needs a shared MariaDB/MySQL or PostgreSQL (set PIXA_TEST_MYSQL_URL or PIXA_TEST_POSTGRES_URL)';
  }
  if (hasHaproxy()) return undefined;
  if (process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v apt-get']).status === 0) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const install = () => spawnSync('apt-get', ['install', '-y', '-qq', 'haproxy'], { env, timeout: 300_000 });
    if (install().status !== 0) {
      spawnSync('apt-get', ['update', '-qq'], { env, timeout: 300_000 });
      install();
    }
    if (hasHaproxy()) return undefined;
  }
  return 'cluster skipped: haproxy is not installed and could not be installed (apt-get install -y haproxy)';
}

const hasHaproxy = (): boolean => spawnSync('sh', ['-c', 'command -v haproxy']).status === 0;

const skipReason = unavailableReason();
if (skipReason) console.warn(skipReason);

/**
 * The cluster of scripts/cluster.sh: three replicas of the five services in pod mode, one shared
 * database and object store, HAProxy in front. Users go through their journey through HAProxy's one
 * port while one replica is SIGKILLed (all five of its processes) in the middle of it. The journey
 * must complete, and afterwards nothing may be lost or half-written and every counter must be exact.
 */
describe.skipIf(skipReason)('cluster › 3 replicas behind HAProxy, one killed mid-run', () => {
  let runDir: string;
  let database: TestDatabase;
  let cluster: ChildProcess;
  let clusterOutput = '';
  let baseUrl: string;
  let db: Database;
  let store: ObjectStore;

  beforeAll(async () => {
    ensureBuilt();
    const dialect =
      DIALECTS.find((d) => d.name === 'mysql' && !d.skipReason) ??
      DIALECTS.find((d) => d.name === 'postgres' && !d.skipReason)!;
    database = await dialect.createDatabase();
    runDir = await mkdtemp(path.join(os.tmpdir(), 'pixa-cluster-'));
    const publicPort = await freePort();
    const basePort = await freePortBlock(REPLICAS * 10 + 1);
    baseUrl = `http://127.0.0.1:${publicPort}`;
    cluster = spawn(
      'bash',
      [
        path.join(ROOT, 'scripts', 'cluster.sh'),
        '--replicas',
        String(REPLICAS),
        '--port',
        String(publicPort),
        '--base-port',
        String(basePort),
        '--dir',
        runDir,
      ],
      {
        env: { ...process.env, PIXA_DATABASE_URL: database.url, PIXA_LOG_LEVEL: 'info', PIXA_STORAGE_URL: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    cluster.stdout!.on('data', (chunk: Buffer) => (clusterOutput += chunk.toString()));
    cluster.stderr!.on('data', (chunk: Buffer) => (clusterOutput += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (clusterOutput.includes('cluster ready')) {
          clearInterval(timer);
          resolve();
        } else if (cluster.exitCode !== null) {
          clearInterval(timer);
          void logTails(runDir).then((tails) =>
            reject(new Error(`cluster.sh exited with ${cluster.exitCode}:\n${clusterOutput}\n${tails}`)),
          );
        }
      }, 200);
    });
    db = await openDatabase(database.url, { poolSize: 2 });
    store = await createObjectStore(`file://${path.join(runDir, 'objects')}`);
  }, 300_000);

  afterAll(async () => {
    await store?.close();
    await db?.close();
    if (cluster && cluster.exitCode === null) {
      const exited = new Promise((resolve) => cluster.once('exit', resolve));
      cluster.kill('SIGTERM');
      await exited;
    }
    await database?.drop();
    if (runDir) await rm(runDir, { recursive: true, force: true });
  }, 120_000);

  test('the journey completes; nothing is lost or half-written; counters are exact', async () => {
    const photos = await Promise.all(
      Array.from({ length: USERS * PHOTOS_PER_USER }, (_, index) =>
        makePhoto({ seed: 100 + index, width: 480, height: 320 }),
      ),
    );
    let uploadsDone = 0;
    retried = 0;
    let killed: Promise<void> | undefined;
    const killedPids: number[] = [];
    let servedBeforeKill = 0;
    const killReplica = async () => {
      const dir = path.join(runDir, `replica-${KILLED_REPLICA}`);
      servedBeforeKill = countMatches(await readFile(path.join(dir, 'gateway.log'), 'utf8'), '"request completed"');
      for (const service of SERVICE_NAMES) {
        const pid = Number(await readFile(path.join(dir, `${service}.pid`), 'utf8'));
        process.kill(pid, 'SIGKILL');
        killedPids.push(pid);
      }
    };

    const journeys = Array.from({ length: USERS }, async (_, user) => {
      const username = `cluster_${user}_${Date.now().toString(36)}`;
      const password = `pw-${username}-secret`;
      const token = await signUp(baseUrl, username, password);
      const mine = photos.slice(user * PHOTOS_PER_USER, (user + 1) * PHOTOS_PER_USER);
      for (const [index, photo] of mine.entries()) {
        const uploaded = await uploadPhoto(baseUrl, token, photo, `u${user}-p${index}.jpg`);
        expect(uploaded.size).toBe(photo.length);
        uploadsDone++;
        if (uploadsDone === KILL_AFTER_UPLOADS) killed = killReplica();
        // Look at what is there after every upload, as the gallery does.
        const listed = await listAll(baseUrl, token);
        const newest = listed.find((image) => image.id === uploaded.id)!;
        expect(sha256(await fetchBytes(baseUrl, newest.urls.original))).toBe(sha256(photo));
      }
      const gallery = await listAll(baseUrl, token);
      expect(gallery.map((image) => image.filename).sort()).toEqual(
        mine.map((_, index) => `u${user}-p${index}.jpg`).sort(),
      );
      const doomed = gallery.find((image) => image.filename === `u${user}-p0.jpg`)!;
      // Deleted for good: moved to the trash, then deleted from it.
      for (const path of [`/api/v1/images/${doomed.id}`, `/api/v1/trash/${doomed.id}`]) {
        await withRetry(`delete ${path}`, async () => {
          const response = await fetch(`${baseUrl}${path}`, {
            method: 'DELETE',
            headers: auth(token),
            signal: patience(),
          });
          // A retried delete whose first attempt got through finds nothing left to delete.
          if (response.status === 204 || response.status === 404) return;
          throw new RetryableStatus(response.status, await response.text());
        });
      }
      const left = await listAll(baseUrl, token);
      expect(left).toHaveLength(PHOTOS_PER_USER - 1);
      for (const image of left) {
        const index = Number(/-p(\d+)\.jpg$/.exec(image.filename)![1]);
        expect(sha256(await fetchBytes(baseUrl, image.urls.original))).toBe(sha256(mine[index]!));
      }
      const usage = await getJson<{ storage: { usedBytes: number }; transfer: { inBytes: number } }>(
        baseUrl,
        '/api/v1/usage',
        token,
      );
      return { username, usage };
    });
    const results = await Promise.all(journeys);
    await killed;
    expect(uploadsDone).toBe(USERS * PHOTOS_PER_USER);
    // The replica was part of the run (HAProxy sent it requests) and is gone for good.
    expect(servedBeforeKill).toBeGreaterThan(0);
    expect(killedPids).toHaveLength(SERVICE_NAMES.length);
    for (const pid of killedPids) expect(() => process.kill(pid, 0)).toThrow();
    console.info(
      `cluster: replica ${KILLED_REPLICA} served ${servedBeforeKill} requests before it was killed; ${retried} requests were retried`,
    );

    // The killed replica stays dead, HAProxy has noticed, and the public port still answers.
    const stats = await fetch(`${baseUrl}/readyz`);
    expect(stats.status).toBe(200);

    // Every image row has all three objects; after the sweeper removes what a killed upload had
    // written before its transaction, the objects are exactly the rows' objects.
    const rows = await db.db
      .selectFrom('images')
      .select(['id', 'owner_id', 'object_prefix', 'original_bytes', 'thumbnail_bytes', 'preview_bytes'])
      .execute();
    expect(rows).toHaveLength(USERS * (PHOTOS_PER_USER - 1));
    for (const row of rows) {
      for (const name of ['original', 'thumb.webp', 'preview.webp']) {
        expect(await store.stat(`${row.object_prefix}${name}`), `${row.object_prefix}${name}`).toBeDefined();
      }
    }
    await sweepOrphans(db.db, store, 0);
    const objects = new Map<string, number>();
    for await (const object of store.list('')) {
      const prefix = object.key.split('/').slice(0, 2).join('/') + '/';
      objects.set(prefix, (objects.get(prefix) ?? 0) + 1);
    }
    expect([...objects.keys()].sort()).toEqual(rows.map((row) => row.object_prefix).sort());
    expect([...objects.values()].every((count) => count === 3)).toBe(true);

    // Storage used is exactly the stored bytes of the images left, for every account.
    const users = await db.db.selectFrom('users').select(['id', 'username', 'storage_used_bytes']).execute();
    for (const { username, usage } of results) {
      const account = users.find((row) => row.username === username)!;
      const stored = rows
        .filter((row) => row.owner_id === account.id)
        .reduce(
          (sum, row) => sum + Number(row.original_bytes) + Number(row.thumbnail_bytes) + Number(row.preview_bytes),
          0,
        );
      expect(Number(account.storage_used_bytes), username).toBe(stored);
      expect(usage.storage.usedBytes, username).toBe(stored);
    }

    // The daily transfer counters are exactly what the storage event log says was received and sent.
    for (const account of users) {
      const counters = await db.db
        .selectFrom('transfer_daily')
        .select([sql<number>`coalesce(sum(bytes_in), 0)`.as('in'), sql<number>`coalesce(sum(bytes_out), 0)`.as('out')])
        .where('user_id', '=', account.id)
        .executeTakeFirstOrThrow();
      const events = await db.db
        .selectFrom('storage_events')
        .select(['operation', 'object_key', 'bytes', 'status'])
        .where('user_id', '=', account.id)
        .execute();
      // Originals received count whatever the answer: an upload refused after its bytes arrived (a
      // retried one cut off by the kill, say) logs what it read with its 4xx.
      const received = events
        .filter((event) => event.operation === 'upload' && event.object_key.endsWith('/original'))
        .reduce((sum, event) => sum + Number(event.bytes), 0);
      const sent = events
        .filter(
          (event) =>
            event.operation === 'download' && Number(event.status) < 300 && !event.object_key.endsWith('/thumb.webp'),
        )
        .reduce((sum, event) => sum + Number(event.bytes), 0);
      expect(Number(counters.in), account.username).toBe(received);
      expect(Number(counters.out), account.username).toBe(sent);
    }
  }, 600_000);
});

interface ImageBody {
  id: string;
  filename: string;
  size: number;
  urls: { original: string };
}

class RetryableStatus extends Error {
  constructor(
    readonly status: number,
    body: string,
  ) {
    super(`answered ${status}: ${body.slice(0, 200)}`);
  }
}

const auth = (token: string) => ({ authorization: `Bearer ${token}` });

/**
 * Every request gives up after a while: a connection HAProxy cuts while no server is up can leave a
 * fetch that never settles.
 */
const patience = () => AbortSignal.timeout(60_000);

/**
 * What a person (or the web UI) does when a request fails because the replica serving it died: try
 * again. Network errors and 502/503/504 are retried; anything else is a real answer.
 */
let retried = 0;

async function withRetry<T>(what: string, attempt: () => Promise<T>): Promise<T> {
  let last: unknown;
  for (let tries = 0; tries < 30; tries++) {
    if (tries === 1) retried++;
    try {
      return await attempt();
    } catch (error) {
      const retryable =
        error instanceof RetryableStatus
          ? [502, 503, 504].includes(error.status)
          : error instanceof TypeError || (error as Error).name === 'TimeoutError';
      if (!retryable) throw error;
      last = error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  throw new Error(`${what}: still failing after retries: ${String(last)}`);
}

async function signUp(baseUrl: string, username: string, password: string): Promise<string> {
  let tried = false;
  return withRetry(`register ${username}`, async () => {
    const retry = tried;
    tried = true;
    const response = await fetch(`${baseUrl}/api/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
      signal: patience(),
    });
    const body = (await response.json()) as { token?: string };
    if (response.status === 201) return body.token!;
    // The first attempt created the account, but its answer was lost with the replica.
    if (response.status === 409 && retry) {
      const login = await fetch(`${baseUrl}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password }),
        signal: patience(),
      });
      if (login.status === 200) return ((await login.json()) as { token: string }).token;
      throw new RetryableStatus(login.status, '');
    }
    throw new RetryableStatus(response.status, JSON.stringify(body));
  });
}

/** Uploading the same bytes again is safe: the account keeps one copy and answers with it. */
function uploadPhoto(baseUrl: string, token: string, photo: Buffer, name: string): Promise<ImageBody> {
  return withRetry(`upload ${name}`, async () => {
    const form = new FormData();
    form.append('file', new Blob([photo], { type: 'image/jpeg' }), name);
    const response = await fetch(`${baseUrl}/api/v1/images`, {
      method: 'POST',
      headers: auth(token),
      body: form,
      signal: patience(),
    });
    const text = await response.text();
    if (response.status !== 201 && response.status !== 200) throw new RetryableStatus(response.status, text);
    return (JSON.parse(text) as { images: ImageBody[] }).images[0]!;
  });
}

async function getJson<T>(baseUrl: string, url: string, token?: string): Promise<T> {
  return withRetry(`GET ${url}`, async () => {
    const response = await fetch(new URL(url, baseUrl), { headers: token ? auth(token) : {}, signal: patience() });
    const text = await response.text();
    if (response.status !== 200) throw new RetryableStatus(response.status, text);
    return JSON.parse(text) as T;
  });
}

async function listAll(baseUrl: string, token: string): Promise<ImageBody[]> {
  return (await getJson<{ items: ImageBody[] }>(baseUrl, '/api/v1/images?limit=200', token)).items;
}

async function fetchBytes(baseUrl: string, url: string): Promise<Buffer> {
  return withRetry(`GET ${url}`, async () => {
    const response = await fetch(new URL(url, baseUrl), { signal: patience() });
    if (response.status !== 200) throw new RetryableStatus(response.status, await response.text());
    return Buffer.from(await response.arrayBuffer());
  });
}

/** The last lines of every log of the run, to see why a cluster did not come up. */
async function logTails(runDir: string): Promise<string> {
  const { readdir } = await import('node:fs/promises');
  const parts: string[] = [];
  for (let replica = 0; replica < REPLICAS; replica++) {
    const dir = path.join(runDir, `replica-${replica}`);
    for (const file of (await readdir(dir).catch(() => [])).filter((name) => name.endsWith('.log'))) {
      const text = await readFile(path.join(dir, file), 'utf8');
      parts.push(`--- replica-${replica}/${file}\n${text.split('\n').slice(-5).join('\n')}`);
    }
  }
  return parts.join('\n');
}

const countMatches = (text: string, needle: string): number => text.split(needle).length - 1;
