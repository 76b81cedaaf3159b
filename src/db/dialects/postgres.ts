import { PostgresDialect, type Dialect } from 'kysely';

import type { PoolSettings } from './pool-settings.js';

/** The dialect for a `postgres://` or `postgresql://` URL; TLS through libpq's `?sslmode=`. */
export async function createPostgresDialect(url: string, settings: PoolSettings): Promise<Dialect> {
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
