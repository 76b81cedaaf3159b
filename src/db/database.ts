import { Kysely, type Dialect } from 'kysely';

import { createMysqlDialect } from './dialects/mysql.js';
import type { PoolSettings } from './dialects/pool-settings.js';
import { createPostgresDialect } from './dialects/postgres.js';
import { createSqliteDialect } from './dialects/sqlite.js';
import type { DB } from './tables.js';

export { isDatabaseUnavailable, isUniqueViolation } from './errors.js';

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

function createDialect(name: DialectName, url: string, settings: PoolSettings): Promise<Dialect> {
  switch (name) {
    case 'sqlite':
      return createSqliteDialect(url);
    case 'mysql':
      return createMysqlDialect(url, settings);
    case 'postgres':
      return createPostgresDialect(url, settings);
  }
}
