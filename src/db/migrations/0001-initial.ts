import { MysqlAdapter, sql, type CreateTableBuilder, type Kysely } from 'kysely';

/**
 * The initial schema. Written with Kysely's schema builder and only portable types, so the same
 * migration runs on SQLite, MySQL/MariaDB and PostgreSQL.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  const createTable = tableCreator(db);

  await createTable('users')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('username', 'varchar(32)', (c) => c.notNull())
    .addColumn('username_key', 'varchar(32)', (c) => c.notNull().unique())
    .addColumn('password_hash', 'varchar(255)', (c) => c.notNull())
    .addColumn('role', 'varchar(16)', (c) => c.notNull().defaultTo('user'))
    .addColumn('storage_quota_bytes', 'bigint')
    .addColumn('daily_transfer_bytes', 'bigint')
    .addColumn('storage_used_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await createTable('sessions')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('user_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .addForeignKeyConstraint('sessions_user_fk', ['user_id'], 'users', ['id'], (fk) => fk.onDelete('cascade'))
    .execute();
  await db.schema.createIndex('sessions_user_idx').on('sessions').column('user_id').execute();

  await createTable('images')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('owner_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('sha256', 'char(64)', (c) => c.notNull())
    .addColumn('filename', 'varchar(255)', (c) => c.notNull())
    .addColumn('media_type', 'varchar(32)', (c) => c.notNull())
    .addColumn('original_bytes', 'bigint', (c) => c.notNull())
    .addColumn('thumbnail_bytes', 'bigint', (c) => c.notNull())
    .addColumn('preview_bytes', 'bigint', (c) => c.notNull())
    .addColumn('width', 'integer', (c) => c.notNull())
    .addColumn('height', 'integer', (c) => c.notNull())
    .addColumn('orientation', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('taken_at', 'bigint', (c) => c.notNull())
    .addColumn('uploaded_at', 'bigint', (c) => c.notNull())
    .addColumn('object_prefix', 'varchar(100)', (c) => c.notNull())
    .addUniqueConstraint('images_owner_sha256_uq', ['owner_id', 'sha256'])
    .addForeignKeyConstraint('images_owner_fk', ['owner_id'], 'users', ['id'], (fk) => fk.onDelete('cascade'))
    .execute();
  // Keyset pagination of a gallery: newest taken first, id breaks ties.
  await db.schema.createIndex('images_owner_taken_idx').on('images').columns(['owner_id', 'taken_at', 'id']).execute();

  await createTable('storage_events')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('user_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('image_id', 'varchar(36)')
    .addColumn('operation', 'varchar(16)', (c) => c.notNull())
    .addColumn('object_key', 'varchar(200)', (c) => c.notNull())
    .addColumn('bytes', 'bigint', (c) => c.notNull())
    .addColumn('status', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('storage_events_user_at_idx').on('storage_events').columns(['user_id', 'at']).execute();

  // Per-day totals of the event log, updated in the same transaction as each event: O(1) usage reads.
  await createTable('transfer_daily')
    .addColumn('user_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('day', 'varchar(10)', (c) => c.notNull())
    .addColumn('bytes_in', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('bytes_out', 'bigint', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('transfer_daily_pk', ['user_id', 'day'])
    .execute();

  await createTable('throttle_events')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('scope', 'varchar(200)', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('throttle_events_scope_at_idx').on('throttle_events').columns(['scope', 'at']).execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up()
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['throttle_events', 'transfer_daily', 'storage_events', 'images', 'sessions', 'users']) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}

/**
 * `createTable` with the table options that make MySQL/MariaDB behave like the other two dialects:
 * InnoDB (transactions, foreign keys) and utf8mb4 with a binary collation, whatever the server's
 * defaults. Binary comparison is what SQLite and PostgreSQL do for these columns: the server's
 * default collation (utf8mb4_general_ci, utf8mb4_0900_ai_ci) would treat "josé" and "jose", or any
 * two ids differing only in case, as equal in unique keys and lookups.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up()
function tableCreator(db: Kysely<any>): (name: string) => CreateTableBuilder<string, never> {
  const mysql = db.getExecutor().adapter instanceof MysqlAdapter;
  return (name) => {
    const builder = db.schema.createTable(name);
    return mysql ? builder.modifyEnd(sql`engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin`) : builder;
  };
}
