// The real backends the backend runs need: a database of its own on a MariaDB/MySQL or PostgreSQL
// server, an S3-protocol server (s3rver) and Azure Blob (Azurite), each started here and removed after.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { DIST } from './paths.js';
import { freePort, startProcess } from './pixa-process.js';

const require = createRequire(import.meta.url);
const HERE = path.dirname(fileURLToPath(import.meta.url));

const resolvable = (entry) => {
  try {
    require.resolve(entry);
    return true;
  } catch {
    return false;
  }
};

/** Why a database dialect cannot run here, or undefined. */
export function databaseUnavailable(dialect, serverUrl) {
  const variable = dialect === 'mysql' ? 'PIXA_TEST_MYSQL_URL' : 'PIXA_TEST_POSTGRES_URL';
  if (!serverUrl) return `${variable} is not set`;
  return undefined;
}

/** Creates an empty database `pixa_bench_…` on the server of `serverUrl`; returns its URL and drop(). */
export async function createDatabase(dialect, serverUrl) {
  const name = `pixa_bench_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  if (dialect === 'mysql') {
    const { createConnection } = await import('mysql2/promise');
    const admin = async (statement) => {
      const connection = await createConnection({
        uri: serverUrl.replace(/^mariadb:/, 'mysql:'),
        connectTimeout: 5000,
      });
      try {
        await connection.query(statement);
      } finally {
        await connection.end();
      }
    };
    await admin(`create database \`${name}\``);
    return { url: url.toString(), drop: () => admin(`drop database if exists \`${name}\``) };
  }
  const { default: pg } = await import('pg');
  const admin = async (statement) => {
    const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5000 });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  await admin(`create database "${name}"`);
  return { url: url.toString(), drop: () => admin(`drop database if exists "${name}" with (force)`) };
}

/** Why the S3 run cannot happen here, or undefined. */
export function s3Unavailable() {
  if (!existsSync(path.join(DIST, 'storage', 's3', 's3-store.js'))) return 'this build has no S3 driver';
  if (!resolvable('s3rver')) return 'npm package s3rver is not installed';
  return undefined;
}

/** s3rver in a process of its own, with the bucket `pixa`; returns a PIXA_STORAGE_URL for it. */
export async function startS3(tmp) {
  const dir = await mkdtemp(path.join(tmp, 's3rver-'));
  const port = await freePort();
  const proc = await startProcess({
    name: 's3rver',
    args: [path.join(HERE, 's3-server.js'), dir, String(port)],
    dataDir: dir,
    readyUrl: `tcp://127.0.0.1:${port}`,
  });
  const query = new URLSearchParams({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    forcePathStyle: 'true',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    // s3rver would store aws-chunked framing inside objects; see DESIGN.md "Known pitfalls".
    checksums: 'when_required',
  });
  return { env: { PIXA_STORAGE_URL: `s3://pixa/bench?${query}` }, stop: proc.stop, label: 's3rver 3' };
}

/** Why the Azure run cannot happen here, or undefined. */
export function azureUnavailable() {
  if (!existsSync(path.join(DIST, 'storage', 'azure', 'azure-store.js'))) return 'this build has no Azure driver';
  if (!resolvable('azurite/dist/src/blob/main.js')) return 'npm package azurite is not installed';
  return undefined;
}

/** Azurite's blob service in a process of its own, keeping blobs on disk. */
export async function startAzure(tmp) {
  const dir = await mkdtemp(path.join(tmp, 'azurite-'));
  const port = await freePort();
  const proc = await startProcess({
    name: 'azurite',
    args: [
      require.resolve('azurite/dist/src/blob/main.js'),
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      String(port),
      '--location',
      dir,
      '--disableTelemetry',
      '--skipApiVersionCheck',
      '--loose',
      '--silent',
    ],
    dataDir: dir,
    readyUrl: `tcp://127.0.0.1:${port}`,
  });
  // Azurite's built-in development account (public, documented; not a secret).
  const {
    EMULATOR_ACCOUNT_NAME: account,
    EMULATOR_ACCOUNT_KEY: key,
  } = require('azurite/dist/src/common/utils/constants.js');
  const connectionString =
    `DefaultEndpointsProtocol=http;AccountName=${account};AccountKey=${Buffer.from(key).toString('base64')};` +
    `BlobEndpoint=http://127.0.0.1:${port}/${account};`;
  return {
    env: { PIXA_STORAGE_URL: 'azure://pixa-bench/objects', PIXA_AZURE_CONNECTION_STRING: connectionString },
    stop: proc.stop,
    label: 'Azurite 3',
  };
}
