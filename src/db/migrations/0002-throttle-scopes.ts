import { MysqlAdapter, sql, type Kysely } from 'kysely';

/**
 * One row per throttle scope (an account, an address, a device, …) that the throttles lock before
 * they count its events and reserve a place: the row lock makes "count, then insert" atomic across
 * requests and replicas on every dialect, where counting the events alone would let parallel
 * requests all see the same count.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  const mysql = db.getExecutor().adapter instanceof MysqlAdapter;
  const table = db.schema
    .createTable('throttle_scopes')
    .addColumn('scope', 'varchar(200)', (c) => c.primaryKey())
    .addColumn('touched_at', 'bigint', (c) => c.notNull());
  // The same table options as 0001-initial: InnoDB, and binary comparison of the key.
  await (
    mysql ? table.modifyEnd(sql`engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin`) : table
  ).execute();
  await db.schema.createIndex('throttle_scopes_touched_idx').on('throttle_scopes').column('touched_at').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('throttle_scopes').ifExists().execute();
}
