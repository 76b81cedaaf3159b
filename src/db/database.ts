import { mkdirSync } from 'node:fs';
import path from 'node:path';

import {
  CompiledQuery,
  Kysely,
  MysqlDialect,
  PostgresDialect,
  SqliteDialect,
  type Dialect,
  type SqliteDatabase,
  type MysqlPool,
} from 'kysely';

import type { DB } from './tables.js';

export type DialectName = 'sqlite' | 'mysql' | 'postgres';

export interface Database {
  db: Kysely<DB>;
  dialect: DialectName;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** Connections per process (MySQL and PostgreSQL). */
  poolSize?: number;
  /**
   * How long opening a connection, or waiting for a free one in the pool (twice this on MySQL), may
   * take before the query fails as unavailable. A dead server must answer 503 in seconds, not hang.
   */
  connectTimeoutMs?: number;
  /** Told about errors of idle pooled connections (a restarted server); the pool replaces them. */
  onIdleError?: (error: Error) => void;
}

const DEFAULT_POOL_SIZE = 10;
const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
/** How long SQLite waits for another process's write lock before failing with SQLITE_BUSY. */
const SQLITE_BUSY_TIMEOUT_MS = 5000;

/**
 * Opens the database named by a `sqlite://`, `mysql://` or `postgres://` URL. TLS: `?ssl=true` on a
 * MySQL URL; PostgreSQL URLs take libpq's `?sslmode=`.
 */
export async function openDatabase(url: string, options: DatabaseOptions = {}): Promise<Database> {
  const dialectName = dialectOf(url);
  const dialect = await createDialect(dialectName, url, {
    poolSize: options.poolSize ?? DEFAULT_POOL_SIZE,
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    onIdleError: options.onIdleError ?? (() => undefined),
  });
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

type PoolSettings = Required<DatabaseOptions>;

async function createDialect(name: DialectName, url: string, settings: PoolSettings): Promise<Dialect> {
  switch (name) {
    case 'sqlite':
      return createSqliteDialect(url);
    case 'mysql':
      return createMysqlDialect(url, settings);
    case 'postgres':
      return createPostgresDialect(url, settings);
  }
}

async function createSqliteDialect(url: string): Promise<Dialect> {
  const { default: SQLite } = await import('better-sqlite3');
  const file = sqlitePath(url);
  if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
  const sqlite = new SQLite(file);
  // WAL lets readers run beside the writer; FULL makes a committed upload survive power loss.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  return new SqliteDialect({ database: withStatementCache(sqlite) });
}

/** Statements kept prepared per SQLite connection; the application has a few dozen distinct ones. */
const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely prepares every statement anew, which costs as much as running a small query. Its SQLite
 * driver runs one statement at a time on its single connection, so a prepared statement can be
 * reused safely; the cache is bounded and dropped oldest first.
 */
function withStatementCache(sqlite: SqliteDatabase): SqliteDatabase {
  const cache = new Map<string, ReturnType<SqliteDatabase['prepare']>>();
  return {
    close: () => sqlite.close(),
    prepare(sql) {
      let statement = cache.get(sql);
      if (!statement) {
        statement = sqlite.prepare(sql);
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
        cache.set(sql, statement);
      }
      return statement;
    },
  };
}

async function createMysqlDialect(url: string, settings: PoolSettings): Promise<Dialect> {
  const { createPool } = await import('mysql2');
  const parsed = new URL(url.replace(/^mariadb:/, 'mysql:'));
  const ssl = parsed.searchParams.get('ssl');
  const pool = createPool({
    host: parsed.hostname,
    port: Number(parsed.port || 3306),
    user: decodeURIComponent(parsed.username || 'root'),
    password: decodeURIComponent(parsed.password),
    database: decodeURIComponent(parsed.pathname.slice(1)),
    connectionLimit: settings.poolSize,
    connectTimeout: settings.connectTimeoutMs,
    charset: 'utf8mb4',
    // `?ssl=true`: TLS with the system's CAs, as managed MySQL services require.
    ...(ssl === 'true' || ssl === 'required' ? { ssl: {} } : {}),
    // Numbers up to 2^53 arrive as numbers; SUM() still arrives as a DECIMAL string (callers use Number()).
    supportBigNumbers: true,
    bigNumberStrings: false,
    // UPDATE reports matched rows, not changed rows, as SQLite and PostgreSQL do: a conditional
    // update that matched but wrote the same values still counts (mysql2's default, made explicit).
    flags: ['FOUND_ROWS'],
    enableKeepAlive: true,
  });
  return new MysqlDialect({
    // Twice the connect timeout: when the wait includes opening a connection to a dead server, the
    // driver's own, more precise error (ECONNREFUSED, ETIMEDOUT) arrives first.
    pool: withAcquireTimeout(pool, 2 * settings.connectTimeoutMs),
    // READ COMMITTED, PostgreSQL's default, so a transaction sees the same rows on both servers: each
    // statement sees what was committed before it. InnoDB also takes no gap locks at this level.
    onCreateConnection: async (connection) => {
      await connection.executeQuery(CompiledQuery.raw('set session transaction isolation level read committed'));
    },
  });
}

/**
 * mysql2's pool queues callers without limit when every connection is busy or the server is down
 * while connections are being opened; pg's pool gives up after `connectionTimeoutMillis`. Give the
 * MySQL pool the same bound, so an overloaded or unreachable database fails fast as unavailable.
 */
function withAcquireTimeout(pool: MysqlPool, timeoutMs: number): MysqlPool {
  return {
    getConnection(callback) {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        const error = Object.assign(new Error(`Timed out after ${timeoutMs} ms waiting for a database connection`), {
          code: POOL_ACQUIRE_TIMEOUT,
        });
        callback(error, undefined as never);
      }, timeoutMs);
      pool.getConnection((error, connection) => {
        if (settled) {
          // The caller gave up; hand a late connection straight back to the pool.
          connection?.release();
          return;
        }
        settled = true;
        clearTimeout(timer);
        callback(error, connection);
      });
    },
    end: (callback) => pool.end(callback),
  };
}

async function createPostgresDialect(url: string, settings: PoolSettings): Promise<Dialect> {
  const pg = await import('pg');
  const types = pg.default.types;
  const pool = new pg.default.Pool({
    connectionString: url,
    max: settings.poolSize,
    // Bounds both opening a connection and waiting for a free one.
    connectionTimeoutMillis: settings.connectTimeoutMs,
    keepAlive: true,
    // BIGINT columns hold times and byte counts, all far below 2^53.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === types.builtins.INT8
          ? (value: string) => Number(value)
          : types.getTypeParser(oid, format)) as typeof types.getTypeParser,
    },
  });
  // An idle client whose server went away (restart, failover) emits 'error'; unhandled, that would
  // crash the process. The pool drops the client and opens a new one for the next query.
  pool.on('error', (error) => settings.onIdleError(error));
  // A client in use loses its connection the same way, between two queries of a transaction, when
  // the pool is not listening to it. The query in flight, or the next one, fails with the error
  // already (503) and the pool drops the client on release; unheard, the event would crash the process.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return new PostgresDialect({ pool });
}

function sqlitePath(url: string): string {
  const rest = url.replace(/^sqlite:\/\//, '');
  if (rest === ':memory:' || rest === '') return ':memory:';
  return path.resolve(decodeURIComponent(rest));
}

const POOL_ACQUIRE_TIMEOUT = 'POOL_ACQUIRE_TIMEOUT';

const UNAVAILABLE_CODES = new Set([
  // network, any driver
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  POOL_ACQUIRE_TIMEOUT,
  // mysql2
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_TOO_MANY_USER_CONNECTIONS',
  'ER_SERVER_SHUTDOWN',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_LOCK_DEADLOCK',
  // PostgreSQL SQLSTATEs
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, in recovery)
  '53300', // too_many_connections
  '08000', // connection_exception
  '08001', // sqlclient_unable_to_establish_sqlconnection
  '08003', // connection_does_not_exist
  '08006', // connection_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
  // SQLite: another process held the write lock for longer than the busy timeout
  'SQLITE_BUSY',
  'SQLITE_BUSY_SNAPSHOT',
  'SQLITE_BUSY_TIMEOUT',
  'SQLITE_LOCKED',
]);

/** Messages of errors that drivers raise without a code. */
const UNAVAILABLE_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|connect ECONNREFUSED|Can't add new command when connection is in closed state|Client has encountered a connection error|Connection lost|Pool is closed/i;

/**
 * True when an error means the database is unreachable, restarting or overloaded, so the request may
 * succeed later (answer 503), rather than a bad query (500).
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const err = error as { code?: unknown; message?: unknown; errors?: unknown; cause?: unknown } | null | undefined;
  if (err === null || typeof err !== 'object') return false;
  if (typeof err.code === 'string' && UNAVAILABLE_CODES.has(err.code)) return true;
  // Node reports a refused connection to every address of a name ("localhost") as an AggregateError.
  if (Array.isArray(err.errors) && err.errors.some(isDatabaseUnavailable)) return true;
  if (err.cause !== undefined && err.cause !== error && isDatabaseUnavailable(err.cause)) return true;
  return typeof err.message === 'string' && UNAVAILABLE_MESSAGE.test(err.message);
}

const UNIQUE_VIOLATION_CODES = new Set([
  'SQLITE_CONSTRAINT_UNIQUE',
  'SQLITE_CONSTRAINT_PRIMARYKEY',
  'ER_DUP_ENTRY',
  '23505', // PostgreSQL unique_violation
]);

/** True for a unique-constraint violation on any dialect. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && UNIQUE_VIOLATION_CODES.has(code);
}
