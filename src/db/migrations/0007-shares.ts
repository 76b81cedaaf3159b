import { MysqlAdapter, sql, type Kysely } from 'kysely';

/**
 * Share links: a link's settings, keyed by the SHA-256 of its key (the key itself is never stored),
 * and for a link to chosen photos, which photos. A link to an album names the album instead.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  const mysql = db.getExecutor().adapter instanceof MysqlAdapter;
  // The same table options as 0001-initial: InnoDB, and binary comparison of ids and hashes.
  const create = (name: string) => {
    const builder = db.schema.createTable(name);
    return mysql ? builder.modifyEnd(sql`engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin`) : builder;
  };

  await create('shares')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('owner_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('key_hash', 'char(64)', (c) => c.notNull().unique())
    .addColumn('album_id', 'varchar(36)')
    .addColumn('title', 'varchar(200)')
    .addColumn('description', 'varchar(2000)')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint')
    .addColumn('revoked_at', 'bigint')
    .addColumn('password_hash', 'varchar(255)')
    .addColumn('allow_download', 'integer', (c) => c.notNull())
    .addColumn('show_metadata', 'integer', (c) => c.notNull())
    .addColumn('show_owner', 'integer', (c) => c.notNull())
    .addColumn('view_count', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('last_access_at', 'bigint')
    .addForeignKeyConstraint('shares_owner_fk', ['owner_id'], 'users', ['id'], (fk) => fk.onDelete('cascade'))
    .execute();
  await db.schema.createIndex('shares_owner_created_idx').on('shares').columns(['owner_id', 'created_at']).execute();

  await create('share_images')
    .addColumn('share_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('image_id', 'varchar(36)', (c) => c.notNull())
    .addPrimaryKeyConstraint('share_images_pk', ['share_id', 'image_id'])
    .addForeignKeyConstraint('share_images_share_fk', ['share_id'], 'shares', ['id'], (fk) => fk.onDelete('cascade'))
    .addForeignKeyConstraint('share_images_image_fk', ['image_id'], 'images', ['id'], (fk) => fk.onDelete('cascade'))
    .execute();
  await db.schema.createIndex('share_images_image_idx').on('share_images').column('image_id').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('share_images').ifExists().execute();
  await db.schema.dropTable('shares').ifExists().execute();
}
