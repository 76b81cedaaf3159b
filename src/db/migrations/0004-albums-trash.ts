import { MysqlAdapter, sql, type CreateTableBuilder, type Kysely } from 'kysely';

/**
 * Albums, favourites and the trash. Albums and their memberships are new tables; a favourite and a
 * photo in the trash are states of an image (`favorite`, `trashed_at`), so existing rows stay as they
 * are: not a favourite, not in the trash. The gallery's keyset index gains `trashed_at`, so that
 * listing the live photos (`trashed_at is null`) still seeks straight to the page on every dialect.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  const createTable = tableCreator(db);
  const mysql = db.getExecutor().adapter instanceof MysqlAdapter;

  await db.schema
    .alterTable('images')
    .addColumn('favorite', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable('images').addColumn('trashed_at', 'bigint').execute();
  // The gallery (live photos), favourites and the trash, each a keyset listing of one owner.
  await db.schema
    .createIndex('images_owner_live_taken_idx')
    .on('images')
    .columns(['owner_id', 'trashed_at', 'taken_at', 'id'])
    .execute();
  await db.schema
    .createIndex('images_owner_favorite_taken_idx')
    .on('images')
    .columns(['owner_id', 'favorite', 'trashed_at', 'taken_at', 'id'])
    .execute();
  // The trash of one owner, newest first; the sweeper's search for expired ones across owners.
  await db.schema
    .createIndex('images_owner_trash_idx')
    .on('images')
    .columns(['owner_id', 'trashed_at', 'id'])
    .execute();
  await db.schema.createIndex('images_trashed_idx').on('images').column('trashed_at').execute();
  // MySQL names the table of an index to drop; the others refuse the clause.
  const dropOld = db.schema.dropIndex('images_owner_taken_idx');
  await (mysql ? dropOld.on('images') : dropOld).execute();

  await createTable('albums')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('owner_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('title', 'varchar(200)', (c) => c.notNull())
    .addColumn('description', 'varchar(2000)', (c) => c.notNull().defaultTo(''))
    .addColumn('cover_image_id', 'varchar(36)')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('activity_at', 'bigint', (c) => c.notNull())
    .addForeignKeyConstraint('albums_owner_fk', ['owner_id'], 'users', ['id'], (fk) => fk.onDelete('cascade'))
    .addForeignKeyConstraint('albums_cover_fk', ['cover_image_id'], 'images', ['id'], (fk) => fk.onDelete('set null'))
    .execute();
  await db.schema
    .createIndex('albums_owner_activity_idx')
    .on('albums')
    .columns(['owner_id', 'activity_at', 'id'])
    .execute();

  // `taken_at` is the image's, copied (it never changes), so an album pages like the gallery, from its own index.
  await createTable('album_images')
    .addColumn('album_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('image_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('taken_at', 'bigint', (c) => c.notNull())
    .addColumn('added_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('album_images_pk', ['album_id', 'image_id'])
    .addForeignKeyConstraint('album_images_album_fk', ['album_id'], 'albums', ['id'], (fk) => fk.onDelete('cascade'))
    .addForeignKeyConstraint('album_images_image_fk', ['image_id'], 'images', ['id'], (fk) => fk.onDelete('cascade'))
    .execute();
  await db.schema
    .createIndex('album_images_album_taken_idx')
    .on('album_images')
    .columns(['album_id', 'taken_at', 'image_id'])
    .execute();
  await db.schema.createIndex('album_images_image_idx').on('album_images').column('image_id').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up()
export async function down(db: Kysely<any>): Promise<void> {
  const mysql = db.getExecutor().adapter instanceof MysqlAdapter;
  await db.schema.dropTable('album_images').ifExists().execute();
  await db.schema.dropTable('albums').ifExists().execute();
  await db.schema.createIndex('images_owner_taken_idx').on('images').columns(['owner_id', 'taken_at', 'id']).execute();
  for (const index of [
    'images_trashed_idx',
    'images_owner_trash_idx',
    'images_owner_favorite_taken_idx',
    'images_owner_live_taken_idx',
  ]) {
    const drop = db.schema.dropIndex(index);
    await (mysql ? drop.on('images') : drop).execute();
  }
  await db.schema.alterTable('images').dropColumn('trashed_at').execute();
  await db.schema.alterTable('images').dropColumn('favorite').execute();
}

/** The same table options as 0001-initial: InnoDB and binary comparison of ids on MySQL/MariaDB. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up()
function tableCreator(db: Kysely<any>): (name: string) => CreateTableBuilder<string, never> {
  const mysql = db.getExecutor().adapter instanceof MysqlAdapter;
  return (name) => {
    const builder = db.schema.createTable(name);
    return mysql ? builder.modifyEnd(sql`engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin`) : builder;
  };
}
