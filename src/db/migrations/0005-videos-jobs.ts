import { MysqlAdapter, sql, type Kysely } from 'kysely';

/**
 * Videos and the background job queue. An image gains its kind, a video's duration, the type a
 * browser is asked whether it plays, the state of its playback copy and that copy's bytes. `jobs` is
 * the queue: a worker takes a row with one conditional UPDATE and holds it for a lease it renews.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  const mysql = db.getExecutor().adapter instanceof MysqlAdapter;
  // One column per statement: SQLite's ALTER TABLE adds one at a time.
  await db.schema
    .alterTable('images')
    .addColumn('kind', 'varchar(8)', (c) => c.notNull().defaultTo('photo'))
    .execute();
  await db.schema.alterTable('images').addColumn('duration_ms', 'bigint').execute();
  await db.schema.alterTable('images').addColumn('playback_type', 'varchar(100)').execute();
  await db.schema.alterTable('images').addColumn('playback_state', 'varchar(16)').execute();
  await db.schema
    .alterTable('images')
    .addColumn('playback_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();

  let table = db.schema
    .createTable('jobs')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('kind', 'varchar(32)', (c) => c.notNull())
    .addColumn('payload', 'varchar(2000)', (c) => c.notNull())
    .addColumn('state', 'varchar(16)', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('run_after', 'bigint', (c) => c.notNull())
    .addColumn('locked_by', 'varchar(100)')
    .addColumn('locked_until', 'bigint')
    .addColumn('last_error', 'varchar(1000)')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull());
  if (mysql) table = table.modifyEnd(sql`engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin`);
  await table.execute();
  await db.schema.createIndex('jobs_state_run_after_idx').on('jobs').columns(['state', 'run_after']).execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('jobs').ifExists().execute();
  for (const column of ['playback_bytes', 'playback_state', 'playback_type', 'duration_ms', 'kind']) {
    await db.schema.alterTable('images').dropColumn(column).execute();
  }
}
