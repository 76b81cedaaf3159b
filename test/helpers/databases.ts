import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { createConnection } from 'mysql2/promise';
import pg from 'pg';
import ts from 'typescript';

import { openDatabase, type Database, type DatabaseOptions, type DialectName } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';

/** A database of its own for one test file, created empty and dropped afterwards. */
export interface TestDatabase {
  dialect: DialectName;
  /** A URL as in PIXA_DATABASE_URL. */
  url: string;
  drop(): Promise<void>;
}

export interface TestDialect {
  name: DialectName;
  /** Why this dialect's suites are skipped (its server URL is not set), or undefined when they run. */
  skipReason: string | undefined;
  /** Creates a fresh, empty database, so parallel test runs never share tables. */
  createDatabase(): Promise<TestDatabase>;
}

/** Prefix of every database the tests create; the name goes on with its creation time in base 36. */
const PREFIX = 'pixa_t_';
/** Databases a crashed run left behind are dropped once they are this old. */
const LEFTOVER_AGE_MS = 24 * 60 * 60 * 1000;

const uniqueName = (): string => `${PREFIX}${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;

function isLeftover(name: string): boolean {
  const created = parseInt(name.slice(PREFIX.length).split('_')[0] ?? '', 36);
  return Number.isFinite(created) && Date.now() - created > LEFTOVER_AGE_MS;
}

function withDatabaseName(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

const sqlite: TestDialect = {
  name: 'sqlite',
  skipReason: undefined,
  async createDatabase() {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pixa-sqlite-'));
    return {
      dialect: 'sqlite',
      url: `sqlite://${path.join(dir, 'pixa.db')}`,
      drop: () => rm(dir, { recursive: true, force: true }),
    };
  },
};

function mysql(serverUrl: string | undefined): TestDialect {
  return {
    name: 'mysql',
    skipReason: serverUrl ? undefined : skipReason('mysql', 'PIXA_TEST_MYSQL_URL', 'mysql://root@127.0.0.1:3306/test'),
    async createDatabase() {
      if (!serverUrl) throw new Error('PIXA_TEST_MYSQL_URL is not set');
      const admin = async <T>(work: (run: (statement: string) => Promise<unknown>) => Promise<T>): Promise<T> => {
        const connection = await createConnection({
          uri: serverUrl.replace(/^mariadb:/, 'mysql:'),
          connectTimeout: 5000,
        });
        try {
          return await work((statement) => connection.query(statement));
        } finally {
          await connection.end();
        }
      };
      const name = uniqueName();
      await admin(async (run) => {
        const [rows] = (await run(`show databases like '${PREFIX}%'`)) as [Record<string, string>[]];
        for (const row of rows) {
          const old = Object.values(row)[0];
          if (old && isLeftover(old)) await run(`drop database if exists \`${old}\``);
        }
        // The server's default character set and collation on purpose: the migrations set their own.
        await run(`create database \`${name}\``);
      });
      return {
        dialect: 'mysql',
        url: withDatabaseName(serverUrl, name),
        drop: () => admin(async (run) => void (await run(`drop database if exists \`${name}\``))),
      };
    },
  };
}

function postgres(serverUrl: string | undefined): TestDialect {
  return {
    name: 'postgres',
    skipReason: serverUrl
      ? undefined
      : skipReason('postgres', 'PIXA_TEST_POSTGRES_URL', 'postgres://postgres@127.0.0.1:5432/test'),
    async createDatabase() {
      if (!serverUrl) throw new Error('PIXA_TEST_POSTGRES_URL is not set');
      const admin = async <T>(
        work: (run: (statement: string) => Promise<pg.QueryResult>) => Promise<T>,
      ): Promise<T> => {
        const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5000 });
        await client.connect();
        try {
          return await work((statement) => client.query(statement));
        } finally {
          await client.end();
        }
      };
      const name = uniqueName();
      await admin(async (run) => {
        const { rows } = await run(`select datname from pg_database where datname like '${PREFIX}%'`);
        for (const { datname } of rows as { datname: string }[]) {
          if (isLeftover(datname)) await run(`drop database if exists "${datname}" with (force)`);
        }
        // A database rather than a schema: Kysely's migrator looks for its tables in every schema.
        await run(`create database "${name}"`);
      });
      return {
        dialect: 'postgres',
        url: withDatabaseName(serverUrl, name),
        // FORCE ends connections a failed test left open (PostgreSQL 13+).
        drop: () => admin(async (run) => void (await run(`drop database if exists "${name}" with (force)`))),
      };
    },
  };
}

function skipReason(dialect: DialectName, variable: string, example: string): string {
  return `${dialect} skipped: set ${variable} (e.g. ${variable}=${example}) to run it against a real server`;
}

/**
 * Every database dialect, like Kysely's test DIALECTS: SQLite always; MySQL/MariaDB and PostgreSQL
 * when their server URL is set. Suites loop over it and `describe.skipIf(dialect.skipReason)`.
 */
export const DIALECTS: readonly TestDialect[] = [
  sqlite,
  mysql(process.env.PIXA_TEST_MYSQL_URL?.trim() || undefined),
  postgres(process.env.PIXA_TEST_POSTGRES_URL?.trim() || undefined),
];

/** Prints why a dialect's suite is skipped, once per suite, so a green run never hides a gap. */
export function announceSkip(suite: string, dialect: TestDialect): void {
  if (dialect.skipReason) console.warn(`${suite}: ${dialect.skipReason}`);
}

/** A fresh database of the dialect, opened through Pixa and migrated; `close()` also drops it. */
export interface MigratedDatabase extends Database {
  url: string;
}

export async function openMigratedDatabase(
  dialect: TestDialect,
  options: DatabaseOptions = {},
): Promise<MigratedDatabase> {
  const created = await dialect.createDatabase();
  let database: Database | undefined;
  try {
    database = await openDatabase(created.url, options);
    await migrateToLatest(database.db);
  } catch (error) {
    await database?.close();
    await created.drop();
    throw error;
  }
  const opened = database;
  return {
    ...opened,
    url: created.url,
    async close() {
      await opened.close();
      await created.drop();
    },
  };
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Compiles `src/db` to plain JavaScript in a temp directory that sees the project's node_modules, so
 * a child process can run it without a TypeScript loader. Only `src/db` and the framework-free
 * helpers of `src/lib` are needed: the database code imports nothing else of Pixa at run time.
 */
async function compileDbModules(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pixa-db-js-'));
  await symlink(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  for (const folder of ['db', 'lib']) {
    const source = path.join(ROOT, 'src', folder);
    for (const entry of await readdir(source, { recursive: true })) {
      if (!entry.endsWith('.ts')) continue;
      const { outputText } = ts.transpileModule(await readFile(path.join(source, entry), 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
      });
      const target = path.join(dir, folder, entry.replace(/\.ts$/, '.js'));
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, outputText);
    }
  }
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Each child opens the database, says `ready`, waits for `go`, migrates and prints what it applied. */
const MIGRATE_CHILD = (dbDir: string): string => `
  import { openDatabase } from ${JSON.stringify(pathToFileURL(path.join(dbDir, 'database.js')).href)};
  import { migrateToLatest } from ${JSON.stringify(pathToFileURL(path.join(dbDir, 'migrate.js')).href)};
  const database = await openDatabase(process.env.PIXA_CHILD_DATABASE_URL);
  try {
    await database.db.selectNoFrom((eb) => eb.lit(1).as('one')).execute();
    process.stdout.write('ready\\n');
    await new Promise((resolve) => process.stdin.once('data', resolve));
    const applied = await migrateToLatest(database.db);
    process.stdout.write('applied ' + JSON.stringify(applied) + '\\n');
  } finally {
    await database.close();
  }
`;

/**
 * Runs Pixa's migrateToLatest in `count` separate Node processes at the same moment against one
 * database, as replicas starting together do, and returns what each applied. Separate processes,
 * because that is the real case and because SQLite's locks are per connection and its driver is
 * synchronous: two connections in one thread would wait on each other.
 */
export async function migrateConcurrently(url: string, count: number): Promise<string[][]> {
  const compiled = await compileDbModules();
  const script = MIGRATE_CHILD(path.join(compiled.dir, 'db'));
  const children = Array.from({ length: count }, () => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, PIXA_CHILD_DATABASE_URL: url },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let onReady = (): void => undefined;
    const ready = new Promise<void>((resolve) => (onReady = resolve));
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.startsWith('ready\n')) onReady();
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const done = new Promise<string[]>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => {
        const line = /^applied (.*)$/m.exec(stdout);
        if (code === 0 && line?.[1]) resolve(JSON.parse(line[1]) as string[]);
        else reject(new Error(`migrating process exited with ${code}:\n${stderr || stdout}`));
      });
    });
    return { child, ready: Promise.race([ready, done.then(() => undefined)]), done };
  });
  try {
    await Promise.all(children.map((c) => c.ready));
    for (const { child } of children) child.stdin.end('go\n');
    return await Promise.all(children.map((c) => c.done));
  } finally {
    for (const { child, done } of children) {
      if (child.exitCode === null) child.kill('SIGKILL');
      await done.catch(() => undefined);
    }
    await compiled.remove();
  }
}
