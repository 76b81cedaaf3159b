import type { Selectable } from 'kysely';

import type { DialectName } from '../../db/database.js';
import type { Executor } from '../../db/executor.js';
import type { AlbumsTable } from '../../db/tables.js';
import { toImageRow, type ImageRow, type PageCursor } from '../images/image.repository.js';

export type AlbumRow = Selectable<AlbumsTable>;

function toAlbumRow(row: AlbumRow): AlbumRow {
  return {
    ...row,
    created_at: Number(row.created_at),
    updated_at: Number(row.updated_at),
    activity_at: Number(row.activity_at),
  };
}

/** What an album holds, counting only photos in the gallery (not in the trash). */
export interface AlbumStats {
  count: number;
  firstTakenAt: number | null;
  lastTakenAt: number | null;
}

export async function insertAlbum(db: Executor, row: AlbumRow): Promise<void> {
  await db.insertInto('albums').values(row).execute();
}

/** The album if it exists and belongs to `ownerId`; another user's album is indistinguishable from none. */
export async function findOwnedAlbum(db: Executor, ownerId: string, id: string): Promise<AlbumRow | undefined> {
  const row = await db
    .selectFrom('albums')
    .selectAll()
    .where('id', '=', id)
    .where('owner_id', '=', ownerId)
    .executeTakeFirst();
  return row && toAlbumRow(row);
}

/** The owner's albums, most recent activity first. */
export async function listAlbums(db: Executor, ownerId: string): Promise<AlbumRow[]> {
  const rows = await db
    .selectFrom('albums')
    .selectAll()
    .where('owner_id', '=', ownerId)
    .orderBy('activity_at', 'desc')
    .orderBy('id', 'desc')
    .execute();
  return rows.map(toAlbumRow);
}

export async function updateAlbum(
  db: Executor,
  id: string,
  changes: Partial<Pick<AlbumRow, 'title' | 'description' | 'cover_image_id' | 'updated_at' | 'activity_at'>>,
): Promise<void> {
  await db.updateTable('albums').set(changes).where('id', '=', id).execute();
}

/** Deletes the owner's album and its memberships (never a photo); false when it was not there. */
export async function deleteAlbum(db: Executor, ownerId: string, id: string): Promise<boolean> {
  const owned = await db
    .selectFrom('albums')
    .select('id')
    .where('id', '=', id)
    .where('owner_id', '=', ownerId)
    .executeTakeFirst();
  if (!owned) return false;
  await db.deleteFrom('album_images').where('album_id', '=', id).execute();
  const result = await db.deleteFrom('albums').where('id', '=', id).where('owner_id', '=', ownerId).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** Count and date range of each album's photos in the gallery, in one query. */
export async function albumStats(db: Executor, albumIds: readonly string[]): Promise<Map<string, AlbumStats>> {
  const stats = new Map<string, AlbumStats>();
  if (albumIds.length === 0) return stats;
  const rows = await db
    .selectFrom('album_images')
    .innerJoin('images', 'images.id', 'album_images.image_id')
    .select((eb) => [
      'album_images.album_id',
      eb.fn.countAll<number | string>().as('count'),
      eb.fn.min<number | string>('album_images.taken_at').as('first'),
      eb.fn.max<number | string>('album_images.taken_at').as('last'),
    ])
    .where('album_images.album_id', 'in', albumIds)
    .where('images.trashed_at', 'is', null)
    .groupBy('album_images.album_id')
    .execute();
  for (const row of rows) {
    stats.set(row.album_id, {
      count: Number(row.count),
      firstTakenAt: Number(row.first),
      lastTakenAt: Number(row.last),
    });
  }
  return stats;
}

/** The album's newest photo in the gallery (its cover unless the owner chose one). */
export async function newestImageId(db: Executor, albumId: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('album_images')
    .innerJoin('images', 'images.id', 'album_images.image_id')
    .select('album_images.image_id')
    .where('album_images.album_id', '=', albumId)
    .where('images.trashed_at', 'is', null)
    .orderBy('album_images.taken_at', 'desc')
    .orderBy('album_images.image_id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.image_id;
}

/** Whether the image is in the album and in the gallery (not in the trash). */
export async function holdsLiveImage(db: Executor, albumId: string, imageId: string): Promise<boolean> {
  const row = await db
    .selectFrom('album_images')
    .innerJoin('images', 'images.id', 'album_images.image_id')
    .select('album_images.image_id')
    .where('album_images.album_id', '=', albumId)
    .where('album_images.image_id', '=', imageId)
    .where('images.trashed_at', 'is', null)
    .executeTakeFirst();
  return row !== undefined;
}

/** Of `imageIds`, those already in the album. */
export async function membersAmong(db: Executor, albumId: string, imageIds: readonly string[]): Promise<Set<string>> {
  if (imageIds.length === 0) return new Set();
  const rows = await db
    .selectFrom('album_images')
    .select('image_id')
    .where('album_id', '=', albumId)
    .where('image_id', 'in', imageIds)
    .execute();
  return new Set(rows.map((row) => row.image_id));
}

/**
 * Adds photos to the album; one already there (added meanwhile by another request) is left as it
 * is, so adding is idempotent on every dialect.
 */
export async function addMembers(
  db: Executor,
  dialect: DialectName,
  albumId: string,
  images: readonly { id: string; taken_at: number }[],
  at: number,
): Promise<void> {
  if (images.length === 0) return;
  const insert = db
    .insertInto('album_images')
    .values(images.map((image) => ({ album_id: albumId, image_id: image.id, taken_at: image.taken_at, added_at: at })));
  await (dialect === 'postgres' ? insert.onConflict((oc) => oc.doNothing()) : insert.orIgnore()).execute();
}

/** Removes photos from the album; answers how many were in it. */
export async function removeMembers(db: Executor, albumId: string, imageIds: readonly string[]): Promise<number> {
  if (imageIds.length === 0) return 0;
  const result = await db
    .deleteFrom('album_images')
    .where('album_id', '=', albumId)
    .where('image_id', 'in', imageIds)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** The albums each image is in, for a page of images in one query. */
export async function albumIdsOfImages(db: Executor, imageIds: readonly string[]): Promise<Map<string, string[]>> {
  const byImage = new Map<string, string[]>();
  if (imageIds.length === 0) return byImage;
  const rows = await db
    .selectFrom('album_images')
    .select(['image_id', 'album_id'])
    .where('image_id', 'in', imageIds)
    .orderBy('album_id')
    .execute();
  for (const row of rows) {
    const list = byImage.get(row.image_id);
    if (list) list.push(row.album_id);
    else byImage.set(row.image_id, [row.album_id]);
  }
  return byImage;
}

/** One page of an album's photos in the gallery, newest taken first, after `cursor` (keyset, as the gallery). */
export async function listAlbumPage(
  db: Executor,
  albumId: string,
  limit: number,
  cursor: PageCursor | undefined,
): Promise<ImageRow[]> {
  let query = db
    .selectFrom('album_images')
    .innerJoin('images', 'images.id', 'album_images.image_id')
    .selectAll('images')
    .where('album_images.album_id', '=', albumId)
    .where('images.trashed_at', 'is', null)
    .orderBy('album_images.taken_at', 'desc')
    .orderBy('album_images.image_id', 'desc')
    .limit(limit);
  if (cursor) {
    // As in the gallery: the redundant bound lets every database seek its index to the page.
    query = query
      .where('album_images.taken_at', '<=', cursor.takenAt)
      .where((eb) =>
        eb.or([
          eb('album_images.taken_at', '<', cursor.takenAt),
          eb.and([eb('album_images.taken_at', '=', cursor.takenAt), eb('album_images.image_id', '<', cursor.id)]),
        ]),
      );
  }
  return (await query.execute()).map(toImageRow);
}
