import type { Selectable } from 'kysely';

import type { Executor } from '../../db/executor.js';
import type { SharesTable } from '../../db/tables.js';
import type { ImageRow, PageCursor } from '../images/image.repository.js';

export type ShareRow = Selectable<SharesTable>;

/** A share with the number of photos a visitor sees now. */
export type ShareWithCount = ShareRow & { image_count: number };

const NUMERIC_SHARE = ['created_at', 'view_count', 'allow_download', 'show_metadata', 'show_owner'] as const;
const NULLABLE_TIMES = ['expires_at', 'revoked_at', 'last_access_at'] as const;

function toShareRow<T extends ShareRow>(row: T): T {
  const out = { ...row };
  for (const column of NUMERIC_SHARE) out[column] = Number(row[column]);
  for (const column of NULLABLE_TIMES) out[column] = row[column] === null ? null : Number(row[column]);
  return out;
}

const IMAGE_NUMERIC = [
  'original_bytes',
  'thumbnail_bytes',
  'preview_bytes',
  'width',
  'height',
  'orientation',
  'taken_at',
  'uploaded_at',
] as const;

function toImageRow(row: ImageRow): ImageRow {
  const out = { ...row };
  for (const column of IMAGE_NUMERIC) out[column] = Number(row[column]);
  return out;
}

export async function insertShare(db: Executor, row: ShareRow, imageIds: readonly string[]): Promise<void> {
  await db.insertInto('shares').values(row).execute();
  if (imageIds.length > 0) {
    await db
      .insertInto('share_images')
      .values(imageIds.map((image_id) => ({ share_id: row.id, image_id })))
      .execute();
  }
}

/** The share by its key's hash, whatever its state (the caller decides what expired or revoked means). */
export async function findShareByKeyHash(db: Executor, keyHash: string): Promise<ShareRow | undefined> {
  const row = await db.selectFrom('shares').selectAll().where('key_hash', '=', keyHash).executeTakeFirst();
  return row && toShareRow(row);
}

/** The owner's share, not revoked; another account's is indistinguishable from none. */
export async function findOwnedShare(db: Executor, ownerId: string, id: string): Promise<ShareWithCount | undefined> {
  const row = await withCount(db)
    .where('shares.id', '=', id)
    .where('shares.owner_id', '=', ownerId)
    .where('shares.revoked_at', 'is', null)
    .executeTakeFirst();
  return row && { ...toShareRow(row), image_count: Number(row.image_count) };
}

/** The owner's shares that are not revoked, newest first. */
export async function listOwnedShares(db: Executor, ownerId: string): Promise<ShareWithCount[]> {
  const rows = await withCount(db)
    .where('shares.owner_id', '=', ownerId)
    .where('shares.revoked_at', 'is', null)
    .orderBy('shares.created_at', 'desc')
    .orderBy('shares.id', 'desc')
    .execute();
  return rows.map((row) => ({ ...toShareRow(row), image_count: Number(row.image_count) }));
}

function withCount(db: Executor) {
  return db
    .selectFrom('shares')
    .selectAll('shares')
    .select((eb) =>
      eb
        .selectFrom('share_images')
        .innerJoin('images', 'images.id', 'share_images.image_id')
        .whereRef('share_images.share_id', '=', 'shares.id')
        .select((inner) => inner.fn.countAll<number | string>().as('n'))
        .as('image_count'),
    );
}

export async function updateShare(
  db: Executor,
  ownerId: string,
  id: string,
  changes: Partial<Pick<ShareRow, 'title' | 'description' | 'expires_at' | 'password_hash'>> &
    Partial<Pick<ShareRow, 'allow_download' | 'show_metadata' | 'show_owner'>>,
): Promise<boolean> {
  if (Object.keys(changes).length === 0) return true;
  const result = await db
    .updateTable('shares')
    .set(changes)
    .where('id', '=', id)
    .where('owner_id', '=', ownerId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function revokeShare(db: Executor, ownerId: string, id: string, at: number): Promise<boolean> {
  const result = await db
    .updateTable('shares')
    .set({ revoked_at: at })
    .where('id', '=', id)
    .where('owner_id', '=', ownerId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function recordVisit(db: Executor, id: string, at: number): Promise<void> {
  await db
    .updateTable('shares')
    .set((eb) => ({ view_count: eb('view_count', '+', 1), last_access_at: at }))
    .where('id', '=', id)
    .execute();
}

/** One page of a link's photos, newest taken first (keyset on taken-at and id, like the gallery). */
export async function listSharedImages(
  db: Executor,
  shareId: string,
  limit: number,
  cursor: PageCursor | undefined,
): Promise<ImageRow[]> {
  let query = db
    .selectFrom('share_images')
    .innerJoin('images', 'images.id', 'share_images.image_id')
    .selectAll('images')
    .where('share_images.share_id', '=', shareId)
    .orderBy('images.taken_at', 'desc')
    .orderBy('images.id', 'desc')
    .limit(limit);
  if (cursor) {
    query = query
      .where('images.taken_at', '<=', cursor.takenAt)
      .where((eb) =>
        eb.or([
          eb('images.taken_at', '<', cursor.takenAt),
          eb.and([eb('images.taken_at', '=', cursor.takenAt), eb('images.id', '<', cursor.id)]),
        ]),
      );
  }
  return (await query.execute()).map(toImageRow);
}

/** The photo if the link shares it (and it still exists). */
export async function findSharedImage(db: Executor, shareId: string, imageId: string): Promise<ImageRow | undefined> {
  const row = await db
    .selectFrom('share_images')
    .innerJoin('images', 'images.id', 'share_images.image_id')
    .selectAll('images')
    .where('share_images.share_id', '=', shareId)
    .where('share_images.image_id', '=', imageId)
    .executeTakeFirst();
  return row && toImageRow(row);
}

/** Those of `ids` that `ownerId` owns. */
export async function findOwnedImages(db: Executor, ownerId: string, ids: readonly string[]): Promise<ImageRow[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom('images')
    .selectAll()
    .where('owner_id', '=', ownerId)
    .where('id', 'in', [...ids])
    .execute();
  return rows.map(toImageRow);
}
