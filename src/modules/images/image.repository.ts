import type { Selectable } from 'kysely';

import type { Executor } from '../../db/executor.js';
import type { ImagesTable } from '../../db/tables.js';

export type ImageRow = Selectable<ImagesTable>;

const NUMERIC = [
  'original_bytes',
  'thumbnail_bytes',
  'preview_bytes',
  'width',
  'height',
  'orientation',
  'taken_at',
  'uploaded_at',
  'favorite',
] as const;

export function toImageRow(row: ImageRow): ImageRow {
  const out = { ...row };
  for (const column of NUMERIC) out[column] = Number(row[column]);
  out.trashed_at = row.trashed_at === null ? null : Number(row.trashed_at);
  return out;
}

/** Bytes an image occupies in the store: the original and both derivatives. */
export const storedBytes = (row: Pick<ImageRow, 'original_bytes' | 'thumbnail_bytes' | 'preview_bytes'>): number =>
  row.original_bytes + row.thumbnail_bytes + row.preview_bytes;

export async function insertImage(db: Executor, row: ImageRow): Promise<void> {
  await db.insertInto('images').values(row).execute();
}

/** The image if it exists and belongs to `ownerId`; another user's image is indistinguishable from none. */
export async function findOwnedImage(db: Executor, ownerId: string, id: string): Promise<ImageRow | undefined> {
  const row = await db
    .selectFrom('images')
    .selectAll()
    .where('id', '=', id)
    .where('owner_id', '=', ownerId)
    .executeTakeFirst();
  return row && toImageRow(row);
}

export async function findImageById(db: Executor, id: string): Promise<ImageRow | undefined> {
  const row = await db.selectFrom('images').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toImageRow(row);
}

export async function findBySha256(db: Executor, ownerId: string, sha256: string): Promise<ImageRow | undefined> {
  const row = await db
    .selectFrom('images')
    .selectAll()
    .where('owner_id', '=', ownerId)
    .where('sha256', '=', sha256)
    .executeTakeFirst();
  return row && toImageRow(row);
}

export interface PageCursor {
  takenAt: number;
  id: string;
}

export interface PageFilter {
  /** Only the owner's favourites. */
  favorite?: boolean;
}

/**
 * One page of a gallery (the live photos, not the trash), newest taken first, after `cursor` (keyset:
 * stable while uploads happen).
 */
export async function listPage(
  db: Executor,
  ownerId: string,
  limit: number,
  cursor: PageCursor | undefined,
  filter: PageFilter = {},
): Promise<ImageRow[]> {
  let query = db
    .selectFrom('images')
    .selectAll()
    .where('owner_id', '=', ownerId)
    .where('trashed_at', 'is', null)
    .$if(filter.favorite === true, (q) => q.where('favorite', '=', 1))
    .orderBy('taken_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit);
  if (cursor) {
    // The redundant `taken_at <=` gives every database a bound to seek the index to; without it
    // deep pages scan from the newest photo.
    query = query
      .where('taken_at', '<=', cursor.takenAt)
      .where((eb) =>
        eb.or([
          eb('taken_at', '<', cursor.takenAt),
          eb.and([eb('taken_at', '=', cursor.takenAt), eb('id', '<', cursor.id)]),
        ]),
      );
  }
  return (await query.execute()).map(toImageRow);
}

export async function listAllOfOwner(db: Executor, ownerId: string): Promise<ImageRow[]> {
  return (await db.selectFrom('images').selectAll().where('owner_id', '=', ownerId).execute()).map(toImageRow);
}

/** Which rows a delete may take: any, or only one in the trash (trashed at or before `trashedUpTo`, if given). */
export interface DeleteCondition {
  trashedOnly?: boolean;
  trashedUpTo?: number;
}

/**
 * Deletes the row if it is still there (and meets `condition`); true only for the caller whose delete
 * took it, so that exactly one of several racing deletes frees its storage and removes its objects.
 */
export async function deleteImageRow(
  db: Executor,
  ownerId: string,
  id: string,
  condition: DeleteCondition = {},
): Promise<boolean> {
  const result = await db
    .deleteFrom('images')
    .where('id', '=', id)
    .where('owner_id', '=', ownerId)
    .$if(condition.trashedOnly === true, (q) => q.where('trashed_at', 'is not', null))
    .$if(condition.trashedUpTo !== undefined, (q) => q.where('trashed_at', '<=', condition.trashedUpTo!))
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** Of `ids`, those that name the owner's images (in the gallery only, unless `withTrash`). */
export async function ownedIds(
  db: Executor,
  ownerId: string,
  ids: readonly string[],
  options: { withTrash?: boolean } = {},
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db
    .selectFrom('images')
    .select('id')
    .where('owner_id', '=', ownerId)
    .where('id', 'in', ids)
    .$if(options.withTrash !== true, (q) => q.where('trashed_at', 'is', null))
    .execute();
  return new Set(rows.map((row) => row.id));
}

/** Marks or unmarks a live image as a favourite; false when the owner has no such image in the gallery. */
export async function setFavorite(db: Executor, ownerId: string, id: string, favorite: boolean): Promise<boolean> {
  const result = await db
    .updateTable('images')
    .set({ favorite: favorite ? 1 : 0 })
    .where('id', '=', id)
    .where('owner_id', '=', ownerId)
    .where('trashed_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Moves a live image to the trash at `at`; false when the owner has no such image in the gallery. */
export async function trashImage(db: Executor, ownerId: string, id: string, at: number): Promise<boolean> {
  const result = await db
    .updateTable('images')
    .set({ trashed_at: at })
    .where('id', '=', id)
    .where('owner_id', '=', ownerId)
    .where('trashed_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Brings the owner's images among `ids` back from the trash; answers how many were in it. */
export async function restoreImages(db: Executor, ownerId: string, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const result = await db
    .updateTable('images')
    .set({ trashed_at: null })
    .where('owner_id', '=', ownerId)
    .where('id', 'in', ids)
    .where('trashed_at', 'is not', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Where a page of the trash ended: the last image's trashed-at and id. */
export interface TrashCursor {
  trashedAt: number;
  id: string;
}

/** One page of the owner's trash, most recently trashed first, after `cursor`. */
export async function listTrashPage(
  db: Executor,
  ownerId: string,
  limit: number,
  cursor: TrashCursor | undefined,
): Promise<ImageRow[]> {
  let query = db
    .selectFrom('images')
    .selectAll()
    .where('owner_id', '=', ownerId)
    .where('trashed_at', 'is not', null)
    .orderBy('trashed_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit);
  if (cursor) {
    query = query
      .where('trashed_at', '<=', cursor.trashedAt)
      .where((eb) =>
        eb.or([
          eb('trashed_at', '<', cursor.trashedAt),
          eb.and([eb('trashed_at', '=', cursor.trashedAt), eb('id', '<', cursor.id)]),
        ]),
      );
  }
  return (await query.execute()).map(toImageRow);
}

/** Up to `limit` of the owner's images in the trash (every owner's when `ownerId` is undefined), trashed at or before `upTo`. */
export async function listTrashed(
  db: Executor,
  ownerId: string | undefined,
  upTo: number,
  limit: number,
): Promise<ImageRow[]> {
  const rows = await db
    .selectFrom('images')
    .selectAll()
    .where('trashed_at', '<=', upTo)
    .$if(ownerId !== undefined, (q) => q.where('owner_id', '=', ownerId!))
    .orderBy('trashed_at')
    .limit(limit)
    .execute();
  return rows.map(toImageRow);
}

/** Bytes the owner's images in the trash occupy (originals and derivatives). */
export async function trashedBytes(db: Executor, ownerId: string): Promise<number> {
  const row = await db
    .selectFrom('images')
    .select((eb) =>
      eb.fn
        .sum<number | string | null>(eb('original_bytes', '+', eb('thumbnail_bytes', '+', eb.ref('preview_bytes'))))
        .as('bytes'),
    )
    .where('owner_id', '=', ownerId)
    .where('trashed_at', 'is not', null)
    .executeTakeFirst();
  return Number(row?.bytes ?? 0);
}

/** Whether a row exists for the object prefix `<owner>/<image>/`; the sweeper keeps only those. */
export async function prefixExists(db: Executor, objectPrefix: string): Promise<boolean> {
  const row = await db.selectFrom('images').select('id').where('object_prefix', '=', objectPrefix).executeTakeFirst();
  return row !== undefined;
}

/** The time taken of each image among `ids`, which an album keeps beside its membership for its own index. */
export async function takenAtOf(db: Executor, ids: readonly string[]): Promise<{ id: string; taken_at: number }[]> {
  if (ids.length === 0) return [];
  const rows = await db.selectFrom('images').select(['id', 'taken_at']).where('id', 'in', ids).execute();
  return rows.map((row) => ({ id: row.id, taken_at: Number(row.taken_at) }));
}
