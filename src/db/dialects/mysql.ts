import { CompiledQuery, MysqlDialect, type Dialect, type MysqlPool } from 'kysely';

import { POOL_ACQUIRE_TIMEOUT } from '../errors.js';
import type { PoolSettings } from './pool-settings.js';

/** The dialect for a `mysql://` or `mariadb://` URL; `?ssl=true` asks for TLS with the system's CAs. */
export async function createMysqlDialect(url: string, settings: PoolSettings): Promise<Dialect> {
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
