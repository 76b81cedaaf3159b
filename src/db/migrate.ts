import { Migrator, SqliteAdapter, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

import * as initial from './migrations/0001-initial.js';
import * as throttleScopes from './migrations/0002-throttle-scopes.js';
import * as eventRollup from './migrations/0003-event-rollup.js';
import * as albumsTrash from './migrations/0004-albums-trash.js';
import * as videosJobs from './migrations/0005-videos-jobs.js';
import * as uploads from './migrations/0006-uploads.js';
import * as shares from './migrations/0007-shares.js';
import * as liveGalleryIndexes from './migrations/0008-live-gallery-indexes.js';

const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': initial,
  '0002-throttle-scopes': throttleScopes,
  '0003-event-rollup': eventRollup,
  '0004-albums-trash': albumsTrash,
  '0005-videos-jobs': videosJobs,
  '0006-uploads': uploads,
  '0007-shares': shares,
  '0008-live-gallery-indexes': liveGalleryIndexes,
};

/** Migrations compiled into the program, so they ship with the build and need no directory scan. */
const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

/** The names of every migration this build knows, oldest first. */
export const MIGRATION_NAMES: readonly string[] = Object.keys(MIGRATIONS).sort();

/**
 * Brings the schema up to date and returns the names it applied. Several replicas may start at once:
 * on PostgreSQL and MySQL Kysely's migrator holds an advisory lock (`pg_advisory_lock`, `get_lock`)
 * while it reads and applies migrations, so each migration runs exactly once. SQLite has no such lock;
 * there the whole run is one `BEGIN IMMEDIATE` transaction, which takes the file's write lock before
 * reading which migrations are applied (a deferred transaction would read, then fail with
 * SQLITE_BUSY_SNAPSHOT when another process migrated in between).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the migrator works on any schema
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  if (!(db.getExecutor().adapter instanceof SqliteAdapter)) return run(new Migrator({ db, provider }));
  return db.connection().execute(async (connection) => {
    await sql`begin immediate`.execute(connection);
    try {
      const applied = await run(new Migrator({ db: connection, provider, disableTransactions: true }));
      await sql`commit`.execute(connection);
      return applied;
    } catch (error) {
      await sql`rollback`.execute(connection);
      throw error;
    }
  });
}

async function run(migrator: Migrator): Promise<string[]> {
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
