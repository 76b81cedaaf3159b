import { mkdirSync } from 'node:fs';
import path from 'node:path';

import { Kysely, MysqlDialect, PostgresDialect, SqliteDialect, type Dialect } from 'kysely';

import type { DB } from './tables.js';

export type DialectName = 'sqlite' | 'mysql' | 'postgres';

export interface Database {
  db: Kysely<DB>;
  dialect: DialectName;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  poolSize?: number;
}

/** Opens the database named by a `sqlite://`, `mysql://` or `postgres://` URL. */
export async function openDatabase(url: string, options: DatabaseOptions = {}): Promise<Database> {
  const dialectName = dialectOf(url);
  const dialect = await createDialect(dialectName, url, options.poolSize ?? 10);
  const db = new Kysely<DB>({ dialect });
  return { db, dialect: dialectName, close: () => db.destroy() };
}

export function dialectOf(url: string): DialectName {
  const scheme = url.slice(0, url.indexOf(':')).toLowerCase();
  if (scheme === 'sqlite') return 'sqlite';
  if (scheme === 'mysql' || scheme === 'mariadb') return 'mysql';
  if (scheme === 'postgres' || scheme === 'postgresql') return 'postgres';
  throw new Error(`Unsupported database URL scheme "${scheme}"`);
}

async function createDialect(name: DialectName, url: string, poolSize: number): Promise<Dialect> {
  switch (name) {
    case 'sqlite': {
      const { default: SQLite } = await import('better-sqlite3');
      const file = sqlitePath(url);
      if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
      const sqlite = new SQLite(file);
      // WAL lets readers run beside the writer; FULL makes a committed upload survive power loss.
      sqlite.pragma('journal_mode = WAL');
      sqlite.pragma('synchronous = FULL');
      sqlite.pragma('foreign_keys = ON');
      sqlite.pragma('busy_timeout = 5000');
      return new SqliteDialect({ database: sqlite });
    }
    case 'mysql': {
      const { createPool } = await import('mysql2');
      const parsed = new URL(url.replace(/^mariadb:/, 'mysql:'));
      return new MysqlDialect({
        pool: createPool({
          host: parsed.hostname,
          port: Number(parsed.port || 3306),
          user: decodeURIComponent(parsed.username || 'root'),
          password: decodeURIComponent(parsed.password),
          database: decodeURIComponent(parsed.pathname.slice(1)),
          connectionLimit: poolSize,
          connectTimeout: 5000,
          supportBigNumbers: true,
          bigNumberStrings: false,
          enableKeepAlive: true,
        }),
      });
    }
    case 'postgres': {
      const pg = await import('pg');
      const types = pg.default.types;
      return new PostgresDialect({
        pool: new pg.default.Pool({
          connectionString: url,
          max: poolSize,
          connectionTimeoutMillis: 5000,
          // BIGINT columns hold times and byte counts, all far below 2^53.
          types: {
            getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
              oid === types.builtins.INT8
                ? (value: string) => Number(value)
                : types.getTypeParser(oid, format)) as typeof types.getTypeParser,
          },
        }),
      });
    }
  }
}

function sqlitePath(url: string): string {
  const rest = url.replace(/^sqlite:\/\//, '');
  if (rest === ':memory:' || rest === '') return ':memory:';
  return path.resolve(decodeURIComponent(rest));
}

const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'ER_CON_COUNT_ERROR',
  '57P01', // postgres: admin shutdown
  '57P03', // postgres: cannot connect now
  '53300', // postgres: too many connections
  'SQLITE_BUSY',
]);

/** True when an error means the database is unreachable or overloaded (answer 503), not a bad query. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const err = error as { code?: string; message?: string; errors?: unknown[] };
  if (err?.code && CONNECTION_ERROR_CODES.has(err.code)) return true;
  if (Array.isArray(err?.errors)) return err.errors.some(isDatabaseUnavailable);
  return /Connection terminated|timeout exceeded when trying to connect|connect ECONNREFUSED/i.test(
    err?.message ?? '',
  );
}

/** True for a unique-constraint violation on any dialect. */
export function isUniqueViolation(error: unknown): boolean {
  const err = error as { code?: string };
  return err?.code === 'SQLITE_CONSTRAINT_UNIQUE' || err?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    err?.code === 'ER_DUP_ENTRY' || err?.code === '23505';
}
