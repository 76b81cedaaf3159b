import type { Selectable } from 'kysely';

import type { Executor } from '../../db/executor.js';
import type { SharesTable } from '../../db/tables.js';
import { listAlbumPage } from '../albums/album.repository.js';
import { toImageRow, type ImageRow, type PageCursor } from '../images/image.repository.js';

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
  return row && withImageCount(row);
}

/** The owner's shares that are not revoked, newest first. */
export async function listOwnedShares(db: Executor, ownerId: string): Promise<ShareWithCount[]> {
  const rows = await withCount(db)
    .where('shares.owner_id', '=', ownerId)
    .where('shares.revoked_at', 'is', null)
    .orderBy('shares.created_at', 'desc')
    .orderBy('shares.id', 'desc')
    .execute();
  return rows.map(withImageCount);
}

/** Shares with the photos a visitor sees now: the chosen ones, or the album's, never those in the trash. */
function withCount(db: Executor) {
  return db
    .selectFrom('shares')
    .selectAll('shares')
    .select((eb) =>
      eb
        .selectFrom('share_images')
        .innerJoin('images', 'images.id', 'share_images.image_id')
        .whereRef('share_images.share_id', '=', 'shares.id')
        .where('images.trashed_at', 'is', null)
        .select((inner) => inner.fn.countAll<number | string>().as('n'))
        .as('chosen_count'),
    )
    .select((eb) =>
      eb
        .selectFrom('album_images')
        .innerJoin('images', 'images.id', 'album_images.image_id')
        .whereRef('album_images.album_id', '=', 'shares.album_id')
        .where('images.trashed_at', 'is', null)
        .select((inner) => inner.fn.countAll<number | string>().as('n'))
        .as('album_count'),
    );
}

function withImageCount(
  row: ShareRow & { chosen_count: number | string | null; album_count: number | string | null },
): ShareWithCount {
  const { chosen_count, album_count, ...share } = row;
  return { ...toShareRow(share), image_count: Number((share.album_id === null ? chosen_count : album_count) ?? 0) };
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

/**
 * One page of a link's photos, newest taken first (keyset on taken-at and id, like the gallery):
 * the album's as it is now, or the chosen ones; photos in the trash drop out.
 */
export async function listSharedImages(
  db: Executor,
  share: Pick<ShareRow, 'id' | 'album_id'>,
  limit: number,
  cursor: PageCursor | undefined,
): Promise<ImageRow[]> {
  if (share.album_id !== null) return listAlbumPage(db, share.album_id, limit, cursor);
  let query = db
    .selectFrom('share_images')
    .innerJoin('images', 'images.id', 'share_images.image_id')
    .selectAll('images')
    .where('share_images.share_id', '=', share.id)
    .where('images.trashed_at', 'is', null)
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

/** The photo if the link shares it now (it exists, is not in the trash, and is still in a shared album). */
export async function findSharedImage(
  db: Executor,
  share: Pick<ShareRow, 'id' | 'album_id'>,
  imageId: string,
): Promise<ImageRow | undefined> {
  const row =
    share.album_id !== null
      ? await db
          .selectFrom('album_images')
          .innerJoin('images', 'images.id', 'album_images.image_id')
          .selectAll('images')
          .where('album_images.album_id', '=', share.album_id)
          .where('album_images.image_id', '=', imageId)
          .where('images.trashed_at', 'is', null)
          .executeTakeFirst()
      : await db
          .selectFrom('share_images')
          .innerJoin('images', 'images.id', 'share_images.image_id')
          .selectAll('images')
          .where('share_images.share_id', '=', share.id)
          .where('share_images.image_id', '=', imageId)
          .where('images.trashed_at', 'is', null)
          .executeTakeFirst();
  return row && toImageRow(row);
}

/** Those of `ids` that `ownerId` owns; with `live`, only those not in the trash. */
export async function findOwnedImages(
  db: Executor,
  ownerId: string,
  ids: readonly string[],
  options: { live?: boolean } = {},
): Promise<ImageRow[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom('images')
    .selectAll()
    .where('owner_id', '=', ownerId)
    .where('id', 'in', [...ids])
    .$if(options.live === true, (q) => q.where('trashed_at', 'is', null))
    .execute();
  return rows.map(toImageRow);
}

/** The album's title and description, if the album still exists and is `ownerId`'s. */
export async function findAlbumOf(
  db: Executor,
  ownerId: string,
  albumId: string,
): Promise<{ title: string; description: string } | undefined> {
  return db
    .selectFrom('albums')
    .select(['title', 'description'])
    .where('id', '=', albumId)
    .where('owner_id', '=', ownerId)
    .executeTakeFirst();
}
