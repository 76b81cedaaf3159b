import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import type { Kysely } from 'kysely';
import pino from 'pino';

import type { Pixa } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { openDatabase } from '../../src/db/database.js';
import type { DB } from '../../src/db/tables.js';
import { createObjectStore } from '../../src/storage/create-store.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { apiClient } from './api.js';
import { DIALECTS } from './databases.js';
import { STORE_DRIVERS } from './object-stores.js';
import { startChildServer } from '../faults/support/child-server.js';
import { startPod, type PodProcess, type StartedPod } from './pod.js';

/**
 * How the suites run Pixa, from `PIXA_TEST_MODE` (the vitest projects set it): `embedded`, one
 * in-process server, or `pod`, the five services as five processes talking HTTP.
 */
export type TestMode = 'embedded' | 'pod';
export const TEST_MODE: TestMode = process.env.PIXA_TEST_MODE === 'pod' ? 'pod' : 'embedded';
export const IN_POD = TEST_MODE === 'pod';

/**
 * The backends the servers run on, from `PIXA_TEST_DATABASE` (sqlite, mysql, postgres) and
 * `PIXA_TEST_STORE` (fs, s3, azure): SQLite and the file store under the data directory unless set.
 * A database whose server URL is missing falls back to SQLite, and says so once.
 */
export const TEST_DATABASE = chosenDialect(process.env.PIXA_TEST_DATABASE);
export const TEST_STORE = STORE_DRIVERS.find((driver) => driver.name === process.env.PIXA_TEST_STORE);

/** What the suite runs against, for skip messages and printed figures: e.g. `pod, postgres, fs`. */
export const TEST_SETUP = `${TEST_MODE}, ${TEST_DATABASE?.name ?? 'sqlite'}, ${TEST_STORE?.name ?? 'fs'}`;

/** A case that reaches into the in-process server (its clock, its services): not run against a pod. */
export const EMBEDDED_ONLY = IN_POD ? 'reaches into the in-process server; embedded mode only' : undefined;

/** A case that opens the SQLite file or the file store's directory itself: only on those backends. */
export const FILES_ONLY =
  TEST_DATABASE || (TEST_STORE && TEST_STORE.name !== 'fs')
    ? 'reads the SQLite file and the file store directly; default backends only'
    : undefined;

export interface TestServer {
  mode: TestMode;
  /** Base URL of the public gateway, e.g. http://127.0.0.1:43121 */
  url: string;
  /** A client of the public API at `url`. */
  client: ReturnType<typeof apiClient>;
  dataDir: string;
  /** The database the server runs on: its own pool in embedded mode, one opened for the test in a pod. */
  db: Kysely<DB>;
  /** The object store the server writes to, opened the same way. */
  store: ObjectStore;
  /**
   * The in-process Pixa (embedded mode). In a pod reading it throws: such a case must be marked
   * `EMBEDDED_ONLY`.
   */
  pixa: Pixa;
  /** The pod's processes (pod mode only). */
  pod?: StartedPod;
  /** Ids of the processes that serve, for memory figures: none when the server runs in the test's own. */
  pids: number[];
  close(): Promise<void>;
}

export interface TestServerOptions {
  /** Run on this data directory (to restart on one); it is then left in place on close. */
  dataDir?: string;
  /** The clock every service reads, for expiry and quota-day tests (embedded mode only). */
  now?: () => number;
  /** Embedded mode as `pixa serve` in a child process rather than in the test's, as a pod always is. */
  childProcess?: boolean;
}

/** The variables every test server starts with, before the suite's own. */
const TEST_DEFAULTS = {
  PIXA_SWEEP_INTERVAL_MINUTES: '0',
  // Tests create many accounts from 127.0.0.1; the sign-up limit has its own test.
  PIXA_SIGNUP_PER_HOUR: '0',
};

/**
 * A real Pixa in the suite's mode, on the suite's backends, with its own temp data directory, database
 * and store; `env` adds PIXA_* variables (a database or storage URL there wins). Nothing is mocked: the
 * same cases run against one process and against five.
 */
export async function startTestServer(
  env: Record<string, string> = {},
  options: TestServerOptions = {},
): Promise<TestServer> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanUp = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };
  try {
    const ownDir = options.dataDir === undefined;
    const dataDir = options.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'pixa-test-')));
    if (ownDir) cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const backends = await startBackends(env, cleanups);
    const fullEnv = { ...TEST_DEFAULTS, ...backends, ...env };
    const server =
      TEST_MODE === 'pod'
        ? await startPodServer(dataDir, fullEnv, options, cleanups)
        : options.childProcess
          ? await startChildProcessServer(dataDir, fullEnv, options, cleanups)
          : await startEmbeddedServer(dataDir, fullEnv, options, cleanups);
    // Not a spread: a pod's `pixa` is a getter that throws.
    return Object.assign(server, { dataDir, close: cleanUp });
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

type StartedServer = Omit<TestServer, 'dataDir' | 'close'>;

async function startEmbeddedServer(
  dataDir: string,
  env: Record<string, string>,
  options: TestServerOptions,
  cleanups: (() => Promise<unknown>)[],
): Promise<StartedServer> {
  const config = loadConfig({ PIXA_DATA_DIR: dataDir, PIXA_PORT: '0', PIXA_HOST: '127.0.0.1', ...env });
  // Loaded here, not at the top: a pod runs the built dist/, and needs none of the in-process server.
  const { createPixa } = await import('../../src/app.js');
  const pixa = await createPixa(config, {
    logger: pino({ level: process.env.PIXA_TEST_LOG_LEVEL ?? 'silent' }),
    now: options.now,
  });
  cleanups.push(() => pixa.close());
  const url = await pixa.app.listen({ host: '127.0.0.1', port: 0 });
  return { mode: 'embedded', url, client: apiClient(url), db: pixa.database.db, store: pixa.store, pixa, pids: [] };
}

async function startPodServer(
  dataDir: string,
  env: Record<string, string>,
  options: TestServerOptions,
  cleanups: (() => Promise<unknown>)[],
): Promise<StartedServer> {
  if (options.now) throw new Error('a manual clock needs the in-process server: mark the case EMBEDDED_ONLY');
  const pod = await startPod({ env, dataDir });
  cleanups.push(() => pod.stop(5000));
  const shared = await openShared(pod.env, cleanups);
  return outOfProcess({ mode: 'pod', url: pod.gatewayUrl, pod, pids: pids(Object.values(pod.processes)), ...shared });
}

async function startChildProcessServer(
  dataDir: string,
  env: Record<string, string>,
  options: TestServerOptions,
  cleanups: (() => Promise<unknown>)[],
): Promise<StartedServer> {
  if (options.now) throw new Error('a manual clock needs the in-process server');
  const child = await startChildServer(dataDir, env);
  cleanups.push(() => child.kill());
  const shared = await openShared({ PIXA_DATA_DIR: dataDir, ...env }, cleanups);
  return outOfProcess({ mode: 'embedded', url: child.url, pids: pids([child.process]), ...shared });
}

/** The test's own view of the database and store the server's processes share, as an operator's tools open them. */
async function openShared(env: Record<string, string>, cleanups: (() => Promise<unknown>)[]) {
  const config = loadConfig({ ...env, PIXA_AUTO_MIGRATE: 'false' });
  const database = await openDatabase(config.databaseUrl, { poolSize: 2 });
  cleanups.push(() => database.close());
  const store = await createObjectStore(config.storageUrl, { azureConnectionString: config.azureConnectionString });
  cleanups.push(() => store.close());
  return { db: database.db, store };
}

function outOfProcess(server: Omit<StartedServer, 'pixa' | 'client'>): StartedServer {
  return Object.defineProperties({ ...server, client: apiClient(server.url) } as StartedServer, {
    pixa: {
      get(): Pixa {
        throw new Error('this case reaches into the in-process server: mark it EMBEDDED_ONLY');
      },
    },
  });
}

const pids = (processes: PodProcess[]): number[] => processes.map((proc) => proc.child.pid!);

/** A database and a store of the suite's kinds for one server, unless `env` names its own. */
async function startBackends(
  env: Record<string, string>,
  cleanups: (() => Promise<unknown>)[],
): Promise<Record<string, string>> {
  const backends: Record<string, string> = {};
  if (TEST_DATABASE && !env.PIXA_DATABASE_URL) {
    const database = await TEST_DATABASE.createDatabase();
    cleanups.push(() => database.drop());
    backends.PIXA_DATABASE_URL = database.url;
  }
  if (TEST_STORE && TEST_STORE.name !== 'fs' && !env.PIXA_STORAGE_URL) {
    const store = await TEST_STORE.start();
    cleanups.push(() => store.stop());
    backends.PIXA_STORAGE_URL = store.url;
    if (store.connectionString) backends.PIXA_AZURE_CONNECTION_STRING = store.connectionString;
  }
  return backends;
}

function chosenDialect(name: string | undefined) {
  if (!name || name === 'sqlite') return undefined;
  const dialect = DIALECTS.find((d) => d.name === name);
  if (!dialect) throw new Error(`PIXA_TEST_DATABASE=${name}: use sqlite, mysql or postgres`);
  if (dialect.skipReason) {
    console.warn(`PIXA_TEST_DATABASE=${name} runs on SQLite instead: ${dialect.skipReason}`);
    return undefined;
  }
  return dialect;
}

/** Keys of the objects under `prefix` in the server's store, whatever the backend, sorted. */
export async function storedKeys(server: TestServer, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of server.store.list(prefix)) keys.push(object.key);
  return keys.sort();
}

/** One object's bytes, read from the server's store (not over HTTP, which would count as transfer). */
export async function storedBytes(server: TestServer, key: string): Promise<Buffer> {
  const chunks = (await (await server.store.get(key)).toArray()) as Buffer[];
  return Buffer.concat(chunks);
}

/** A suite that starts its own kind of server, not the project's: it runs once, in the default set-up. */
export const DEFAULT_SETUP_ONLY =
  TEST_SETUP === 'embedded, sqlite, fs' ? undefined : 'starts a server of its own; runs in the default set-up only';
