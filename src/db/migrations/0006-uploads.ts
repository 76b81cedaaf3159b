import { MysqlAdapter, sql, type Kysely } from 'kysely';

/**
 * Resumable uploads (tus): one row per upload with what it reserved, one row per stored part, and
 * the reservations beside the counters they hold room in (`users.storage_reserved_bytes`,
 * `transfer_daily.bytes_reserved`), so one conditional UPDATE of one row still decides every quota.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  const mysql = db.getExecutor().adapter instanceof MysqlAdapter;
  const options = sql`engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin`;

  await db.schema
    .alterTable('users')
    .addColumn('storage_reserved_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable('transfer_daily')
    .addColumn('bytes_reserved', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();

  const uploads = db.schema
    .createTable('uploads')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('owner_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('filename', 'varchar(255)', (c) => c.notNull())
    .addColumn('sha256', 'char(64)')
    .addColumn('length', 'bigint', (c) => c.notNull())
    .addColumn('received_bytes', 'bigint', (c) => c.notNull())
    .addColumn('reserved_storage', 'bigint', (c) => c.notNull())
    .addColumn('reserved_transfer', 'bigint', (c) => c.notNull())
    .addColumn('reserved_day', 'varchar(10)', (c) => c.notNull())
    .addColumn('state', 'varchar(16)', (c) => c.notNull())
    .addColumn('result', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addForeignKeyConstraint('uploads_owner_fk', ['owner_id'], 'users', ['id'], (fk) => fk.onDelete('cascade'));
  await (mysql ? uploads.modifyEnd(options) : uploads).execute();
  await db.schema.createIndex('uploads_expires_idx').on('uploads').column('expires_at').execute();
  await db.schema.createIndex('uploads_owner_idx').on('uploads').column('owner_id').execute();

  const parts = db.schema
    .createTable('upload_parts')
    .addColumn('upload_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('start', 'bigint', (c) => c.notNull())
    .addColumn('bytes', 'bigint', (c) => c.notNull())
    .addColumn('object_key', 'varchar(200)', (c) => c.notNull())
    .addPrimaryKeyConstraint('upload_parts_pk', ['upload_id', 'start'])
    .addForeignKeyConstraint('upload_parts_upload_fk', ['upload_id'], 'uploads', ['id'], (fk) =>
      fk.onDelete('cascade'),
    );
  await (mysql ? parts.modifyEnd(options) : parts).execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('upload_parts').ifExists().execute();
  await db.schema.dropTable('uploads').ifExists().execute();
  await db.schema.alterTable('transfer_daily').dropColumn('bytes_reserved').execute();
  await db.schema.alterTable('users').dropColumn('storage_reserved_bytes').execute();
}
