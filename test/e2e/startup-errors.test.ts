import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { DIALECTS } from '../helpers/databases.js';
import {
  azuriteConnectionString,
  STORE_DRIVERS,
  S3_TEST_BUCKET,
  s3TestUrl,
  type StartedStore,
} from '../helpers/object-stores.js';
import { ensureBuilt, freePort, ROOT, runPixa } from '../helpers/pod.js';

const POSTGRES_URL = process.env.PIXA_TEST_POSTGRES_URL;
const MYSQL_URL = process.env.PIXA_TEST_MYSQL_URL;
const POD_SECRETS = {
  PIXA_MODE: 'pod',
  PIXA_AUTH_SECRET_KEY: randomBytes(32).toString('base64url'),
  PIXA_INTERNAL_TOKEN: randomBytes(32).toString('base64url'),
};

/** `url` with another database name, user and password. */
function withDatabase(url: string, changes: { database?: string; user?: string; password?: string }): string {
  const changed = new URL(url);
  if (changes.database) changed.pathname = `/${changes.database}`;
  if (changes.user) changed.username = changes.user;
  if (changes.password) changed.password = changes.password;
  return changed.toString();
}

/**
 * The failure is explained: exit 1, one `pixa:` line naming the setting and what was tried, one line
 * with the fix, no stack trace, and no secret.
 */
function expectExplained(
  result: { status: number | null; output: string },
  expected: { problem: RegExp; fix: RegExp; secret?: string },
): void {
  expect(result.status, result.output).toBe(1);
  const lines = result.output.split('\n');
  const at = lines.findIndex((line) => line.startsWith('pixa: '));
  expect(at, result.output).toBeGreaterThan(-1);
  expect(lines[at]).toMatch(expected.problem);
  expect(lines[at + 1]).toMatch(expected.fix);
  expect(result.output).not.toMatch(/\n\s+at /);
  if (expected.secret) expect(result.output).not.toContain(expected.secret);
}

describe('start-up failures are explained', () => {
  let dataDir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    ensureBuilt();
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'pixa-startup-'));
    env = { PIXA_DATA_DIR: dataDir, PIXA_HOST: '127.0.0.1', PIXA_LOG_LEVEL: 'warn' };
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  describe.skipIf(!POSTGRES_URL)('PostgreSQL', () => {
    test('a database that does not exist › serve and migrate name it and say createdb', () => {
      const database = `pixa_missing_${randomBytes(4).toString('hex')}`;
      const url = withDatabase(POSTGRES_URL!, { database });
      for (const command of [['serve'], ['migrate']]) {
        expectExplained(runPixa(command, { ...env, PIXA_DATABASE_URL: url }), {
          problem: new RegExp(`database "${database}" does not exist .*PIXA_DATABASE_URL=postgres://`),
          fix: new RegExp(`createdb -h .* ${database}`),
        });
      }
    });

    test('TLS asked for › explained either way: a server without TLS, or a certificate not trusted', () => {
      const url = `${POSTGRES_URL!.split('?')[0]}?sslmode=require`;
      expectExplained(runPixa(['serve'], { ...env, PIXA_DATABASE_URL: url }), {
        problem: /does not offer TLS|TLS certificate .* not accepted/,
        fix: /sslmode|certificate/,
      });
    });

    test('wrong credentials › the user is named, the password is not', () => {
      const url = withDatabase(POSTGRES_URL!, { user: 'pixa_nobody', password: 'not-the-password-4711' });
      expectExplained(runPixa(['serve'], { ...env, PIXA_DATABASE_URL: url }), {
        problem: /refused the credentials of user "pixa_nobody".*pixa_nobody:\*\*\*@/,
        fix: /Check the user and password in PIXA_DATABASE_URL/,
        secret: 'not-the-password-4711',
      });
    });
  });
  if (!POSTGRES_URL) console.log('startup-errors PostgreSQL cases skipped: set PIXA_TEST_POSTGRES_URL');

  describe.skipIf(!MYSQL_URL)('MySQL', () => {
    test('a database that does not exist › CREATE DATABASE is the fix', () => {
      const database = `pixa_missing_${randomBytes(4).toString('hex')}`;
      expectExplained(runPixa(['migrate'], { ...env, PIXA_DATABASE_URL: withDatabase(MYSQL_URL!, { database }) }), {
        problem: new RegExp(`database "${database}" does not exist`),
        fix: new RegExp(`CREATE DATABASE \`${database}\``),
      });
    });

    test('a wrong password › refused, and the password is not shown', () => {
      const url = withDatabase(MYSQL_URL!, { password: 'wrong-password-0815' });
      expectExplained(runPixa(['serve'], { ...env, PIXA_DATABASE_URL: url }), {
        problem: /refused the credentials of user/,
        fix: /Check the user and password/,
        secret: 'wrong-password-0815',
      });
    });
  });
  if (!MYSQL_URL) console.log('startup-errors MySQL cases skipped: set PIXA_TEST_MYSQL_URL');

  test('a database server that refuses the connection › host and port named, password hidden', async () => {
    const port = await freePort();
    const url = `postgres://pixa:hunter2-secret@127.0.0.1:${port}/pixa`;
    expectExplained(runPixa(['serve'], { ...env, PIXA_DATABASE_URL: url }), {
      problem: new RegExp(`127\\.0\\.0\\.1:${port} refused the connection .*pixa:\\*\\*\\*@`),
      fix: /Start it, or correct the host and port in PIXA_DATABASE_URL/,
      secret: 'hunter2-secret',
    });
  });

  test('a data directory that cannot be created › the SQLite file and PIXA_DATA_DIR are named', async () => {
    const file = path.join(dataDir, 'a-file');
    await writeFile(file, '');
    expectExplained(runPixa(['serve'], { ...env, PIXA_DATA_DIR: path.join(file, 'data') }), {
      problem: /cannot open the SQLite database .*a-file\/data\/pixa\.db/,
      fix: /PIXA_DATA_DIR/,
    });
  });

  test('an object directory that cannot be created › named with PIXA_STORAGE_URL', async () => {
    const file = path.join(dataDir, 'not-a-dir');
    await writeFile(file, '');
    expectExplained(runPixa(['serve'], { ...env, PIXA_STORAGE_URL: `file://${file}/objects` }), {
      problem: /cannot use the object directory .*not-a-dir\/objects/,
      fix: /PIXA_STORAGE_URL/,
    });
  });

  test('an S3 endpoint that refuses the connection › the endpoint is named, the keys are not', async () => {
    const port = await freePort();
    const url = s3TestUrl(`http://127.0.0.1:${port}`, 'photos').replace('S3RVER', 'AKIDEXAMPLE');
    expectExplained(
      runPixa(['serve'], {
        ...env,
        PIXA_STORAGE_URL: url.replace(/secretAccessKey=[^&]+/, 'secretAccessKey=topsecret42'),
      }),
      {
        problem: new RegExp(`S3 endpoint http://127\\.0\\.0\\.1:${port} refused the connection`),
        fix: /PIXA_STORAGE_URL/,
        secret: 'topsecret42',
      },
    );
  });

  test('an Azure endpoint that refuses the connection › the endpoint is named, the account key is not', async () => {
    const port = await freePort();
    const connectionString = azuriteConnectionString(port);
    const key = /AccountKey=([^;]+)/.exec(connectionString)![1]!;
    const result = runPixa(['serve'], {
      ...env,
      PIXA_STORAGE_URL: 'azure://photos/prod',
      PIXA_AZURE_CONNECTION_STRING: connectionString,
    });
    expectExplained(result, {
      problem: new RegExp(`Azure Blob endpoint http://127\\.0\\.0\\.1:${port}/devstoreaccount1 refused the connection`),
      fix: /PIXA_AZURE_CONNECTION_STRING/,
      secret: key,
    });
  });

  describe('S3', () => {
    const s3 = STORE_DRIVERS.find((driver) => driver.name === 's3');
    const reason = s3 ? s3.unavailableReason() : 'PIXA_TEST_STORES leaves s3 out';
    let store: StartedStore;
    beforeAll(async () => {
      if (!reason) store = await s3!.start();
    }, 60_000);
    afterAll(() => store?.stop());
    if (reason) console.log(`startup-errors S3 case skipped: ${reason}`);

    test.skipIf(reason)('a bucket that does not exist › its name and how to create it', () => {
      const url = store.url.replace(`s3://${S3_TEST_BUCKET}/`, 's3://pixa-no-such-bucket/');
      expectExplained(runPixa(['serve'], { ...env, PIXA_STORAGE_URL: url }), {
        problem: /S3 bucket "pixa-no-such-bucket" does not exist .*secretAccessKey=\*\*\*/,
        fix: /aws s3 mb s3:\/\/pixa-no-such-bucket --endpoint-url http/,
      });
    });
  });

  test('a port in use › the port, its setting and how to find the other program', async () => {
    const blocker = net.createServer();
    const port = await new Promise<number>((resolve) =>
      blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as net.AddressInfo).port)),
    );
    try {
      expectExplained(runPixa(['serve'], { ...env, PIXA_PORT: String(port) }), {
        problem: new RegExp(`port ${port} on 127\\.0\\.0\\.1 \\(PIXA_PORT=${port}\\) is already in use`),
        fix: /ss -ltnp|set PIXA_PORT to a free port/,
      });
    } finally {
      blocker.close();
    }
  });

  test('pod mode, a database that never comes up › waits with back-off, then gives up explained', async () => {
    const port = await freePort();
    const result = runPixa(['serve', '--services', 'auth'], {
      ...env,
      ...POD_SECRETS,
      PIXA_AUTH_PORT: String(await freePort()),
      PIXA_DATABASE_URL: `mysql://pixa:pw-9931@127.0.0.1:${port}/pixa`,
      PIXA_STARTUP_WAIT_SECONDS: '2',
    });
    expect(result.output).toMatch(/pixa: waiting: the database server 127\.0\.0\.1:\d+ refused the connection/);
    expectExplained(result, { problem: /refused the connection/, fix: /PIXA_DATABASE_URL/, secret: 'pw-9931' });
  });

  test.skipIf(!POSTGRES_URL)(
    'pod mode, a database that comes up late › the service starts once it is there',
    async () => {
      const port = await freePort();
      // A database of its own: the service migrates it once it is reachable.
      const database = await DIALECTS.find((dialect) => dialect.name === 'postgres')!.createDatabase();
      const target = new URL(database.url);
      const late = new URL(database.url);
      late.host = `127.0.0.1:${port}`;
      const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'pixa.js'), 'serve', '--services', 'auth'], {
        env: {
          ...process.env,
          ...env,
          ...POD_SECRETS,
          PIXA_AUTH_PORT: String(await freePort()),
          PIXA_LOG_LEVEL: 'info',
          PIXA_DATABASE_URL: late.toString(),
          PIXA_STARTUP_WAIT_SECONDS: '60',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      const seen = (pattern: RegExp) =>
        new Promise<void>((resolve, reject) => {
          const check = () => pattern.test(output) && resolve();
          child.stdout.on('data', (chunk: Buffer) => ((output += chunk.toString()), check()));
          child.stderr.on('data', (chunk: Buffer) => ((output += chunk.toString()), check()));
          child.once('exit', () => reject(new Error(`pixa serve exited:\n${output}`)));
        });
      // The database "starts": a TCP relay to the real server appears on the port the service waits for.
      const relay = net.createServer((socket) => {
        const upstream = net.connect(Number(target.port || 5432), target.hostname);
        socket.pipe(upstream).pipe(socket);
        const close = () => (socket.destroy(), upstream.destroy());
        socket.on('error', close);
        upstream.on('error', close);
      });
      try {
        await seen(/pixa: waiting: the database server .* refused the connection/);
        await new Promise<void>((resolve) => relay.listen(port, '127.0.0.1', resolve));
        await seen(/"msg":"listening"/);
      } finally {
        child.kill('SIGTERM');
        await new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(null)));
        relay.close();
        await database.drop();
      }
    },
    90_000,
  );
});
