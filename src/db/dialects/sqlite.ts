import { mkdirSync } from 'node:fs';
import path from 'node:path';

import { SqliteDialect, type Dialect, type SqliteDatabase } from 'kysely';
import { LRUCache } from 'lru-cache';

/** How long SQLite waits for another process's write lock before failing with SQLITE_BUSY. */
const SQLITE_BUSY_TIMEOUT_MS = 5000;
/** Statements kept prepared per SQLite connection; the application has a few dozen distinct ones. */
const STATEMENT_CACHE_SIZE = 500;

/** The dialect for a `sqlite://path` (or `sqlite://:memory:`) URL; creates the file's directory. */
export async function createSqliteDialect(url: string): Promise<Dialect> {
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

/**
 * Kysely prepares every statement anew, which costs as much as running a small query. Its SQLite
 * driver runs one statement at a time on its single connection, so a prepared statement can be
 * reused safely; the cache is bounded and drops the least recently used first.
 */
function withStatementCache(sqlite: SqliteDatabase): SqliteDatabase {
  type Statement = ReturnType<SqliteDatabase['prepare']>;
  const cache = new LRUCache<string, Statement>({ max: STATEMENT_CACHE_SIZE });
  return {
    close: () => sqlite.close(),
    prepare(sql) {
      let statement = cache.get(sql);
      if (!statement) {
        statement = sqlite.prepare(sql);
        cache.set(sql, statement);
      }
      return statement;
    },
  };
}

function sqlitePath(url: string): string {
  const rest = url.replace(/^sqlite:\/\//, '');
  if (rest === ':memory:' || rest === '') return ':memory:';
  return path.resolve(decodeURIComponent(rest));
}
