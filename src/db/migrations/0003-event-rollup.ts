import { MysqlAdapter, sql, type Kysely } from 'kysely';

/**
 * Daily per-account totals of the storage event log. Events older than the retention period are
 * folded into these rows and deleted, so the log no longer grows for ever. The `at` index lets the
 * roll-up find old events without scanning the whole log.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  const mysql = db.getExecutor().adapter instanceof MysqlAdapter;
  let table = db.schema
    .createTable('storage_event_days')
    .addColumn('user_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('day', 'varchar(10)', (c) => c.notNull())
    .addColumn('operation', 'varchar(16)', (c) => c.notNull())
    .addColumn('events', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('bytes', 'bigint', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('storage_event_days_pk', ['user_id', 'day', 'operation']);
  // Same table options as the initial schema: InnoDB and binary comparison of ids on MySQL/MariaDB.
  if (mysql) table = table.modifyEnd(sql`engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin`);
  await table.execute();
  await db.schema.createIndex('storage_events_at_idx').on('storage_events').column('at').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('storage_events_at_idx').on('storage_events').execute();
  await db.schema.dropTable('storage_event_days').ifExists().execute();
}
