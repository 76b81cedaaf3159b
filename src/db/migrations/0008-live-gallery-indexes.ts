import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * PostgreSQL's gallery indexes for live photos only. The keyset indexes of 0004 put `trashed_at`
 * before `taken_at`, which serves MySQL and SQLite (they take `trashed_at is null` as fixing that
 * column), but PostgreSQL's planner derives order only from `=` conditions: for a gallery, favourites
 * or a page by cursor it read every live photo of the account and sorted them, ~5 ms per page at
 * 10,000 photos. A partial index `where trashed_at is null` holds the order itself. The other
 * dialects get nothing here (MySQL has no partial indexes and needs none).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await db.schema
    .createIndex('images_owner_live_order_idx')
    .on('images')
    .columns(['owner_id', 'taken_at', 'id'])
    .where(sql.ref('trashed_at'), 'is', null)
    .execute();
  await db.schema
    .createIndex('images_owner_favorite_order_idx')
    .on('images')
    .columns(['owner_id', 'taken_at', 'id'])
    .where(sql<boolean>`trashed_at is null and favorite = 1`)
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await db.schema.dropIndex('images_owner_favorite_order_idx').execute();
  await db.schema.dropIndex('images_owner_live_order_idx').execute();
}
