import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

/** A store backend the tests started, and how Pixa reaches it. */
export interface StartedStore {
  /** A storage URL as in PIXA_STORAGE_URL. */
  url: string;
  /** Set for `azure://` stores. */
  connectionString?: string;
  stop(): Promise<void>;
}

export interface StoreDriver {
  name: 'fs' | 's3' | 'azure';
  /** Why this driver cannot run here (its server package is missing), or undefined when it can. */
  unavailableReason(): string | undefined;
  start(): Promise<StartedStore>;
}

/** The bucket s3rver creates; the s3 URLs below point at it. */
export const S3_TEST_BUCKET = 'pixa';
/** Azurite's documented development account key (public, not a secret). */
const AZURITE_ACCOUNT = 'devstoreaccount1';
const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

const require = createRequire(import.meta.url);

function missingPackage(name: string, entry: string): string | undefined {
  try {
    require.resolve(entry);
    return undefined;
  } catch {
    return `npm package ${name} is not installed`;
  }
}

/** The Azurite connection string for a blob endpoint on 127.0.0.1 (port 1 gives a dead endpoint). */
export function azuriteConnectionString(port: number): string {
  return (
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
    `BlobEndpoint=http://127.0.0.1:${port}/${AZURITE_ACCOUNT};`
  );
}

/** An s3:// URL for an S3-protocol endpoint, with the settings s3rver needs. */
export function s3TestUrl(endpoint: string, prefix: string): string {
  const query = new URLSearchParams({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: 'true',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    // s3rver would store aws-chunked framing inside objects; see DESIGN.md "Known pitfalls".
    checksums: 'when_required',
  });
  return `s3://${S3_TEST_BUCKET}/${prefix}?${query.toString()}`;
}

function uniquePrefix(): string {
  return `t-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

async function startFs(): Promise<StartedStore> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pixa-fs-store-'));
  return {
    url: `file://${dir}`,
    stop: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * Runs a server as a child process (killable, and its crashes stay out of the test worker) and resolves
 * with the port it prints once it listens.
 */
async function spawnServer(
  name: string,
  args: string[],
  cwd: string,
  portPattern: RegExp,
): Promise<{ port: number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let listening = false;
  const port = await new Promise<number>((resolve, reject) => {
    let output = '';
    const fail = (err: Error): void => {
      clearTimeout(timer);
      if (listening) return;
      child.kill('SIGKILL');
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`${name} did not start within 30 s:\n${output}`)), 30_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = portPattern.exec(output);
      if (match && !listening) {
        listening = true;
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`${name} exited with code ${code}:\n${output}`)));
  });
  return {
    port,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killTimer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(killTimer);
      }
    },
  };
}

async function startS3(): Promise<StartedStore> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pixa-s3rver-'));
  // s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 only offers through its
  // legacy provider: without it every truncated listing (over 1000 keys) fails with a 500.
  const script = `
    const S3rver = require(${JSON.stringify(require.resolve('s3rver'))});
    new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: process.argv[1],
      configureBuckets: [{ name: ${JSON.stringify(S3_TEST_BUCKET)} }] })
      .run().then(({ port }) => console.log('s3rver listening on port ' + port));`;
  const server = await spawnServer(
    's3rver',
    ['--openssl-legacy-provider', '-e', script, dir],
    dir,
    /s3rver listening on port (\d+)/,
  );
  return {
    url: s3TestUrl(`http://127.0.0.1:${server.port}`, uniquePrefix()),
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function startAzure(): Promise<StartedStore> {
  // Azurite keeps nothing on disk with --inMemoryPersistence, but it resolves its workspace from cwd.
  const cwd = await mkdtemp(path.join(os.tmpdir(), 'pixa-azurite-'));
  const server = await spawnServer(
    'Azurite',
    [
      require.resolve('azurite/dist/src/blob/main.js'),
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      '0',
      '--inMemoryPersistence',
      '--extentMemoryLimit',
      '512',
      '--disableTelemetry',
      '--skipApiVersionCheck',
      '--loose',
      '--silent',
    ],
    cwd,
    /successfully listens on http:\/\/[^:]+:(\d+)/,
  );
  return {
    url: `azure://${uniquePrefix()}/objects`,
    connectionString: azuriteConnectionString(server.port),
    async stop() {
      await server.stop();
      await rm(cwd, { recursive: true, force: true });
    },
  };
}

const ALL_DRIVERS: readonly StoreDriver[] = [
  { name: 'fs', unavailableReason: () => undefined, start: startFs },
  { name: 's3', unavailableReason: () => missingPackage('s3rver', 's3rver'), start: startS3 },
  {
    name: 'azure',
    unavailableReason: () => missingPackage('azurite', 'azurite/dist/src/blob/main.js'),
    start: startAzure,
  },
];

/**
 * Every object-store backend, each started locally by the test (a temp directory, s3rver, Azurite), so
 * suites can loop over them like Kysely's DIALECTS. `PIXA_TEST_STORES=fs,s3` narrows the list.
 */
export const STORE_DRIVERS: readonly StoreDriver[] = ((): readonly StoreDriver[] => {
  const wanted = process.env.PIXA_TEST_STORES?.split(',').map((s) => s.trim());
  return wanted ? ALL_DRIVERS.filter((d) => wanted.includes(d.name)) : ALL_DRIVERS;
})();
