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
  'playback_bytes',
] as const;

function toImageRow(row: ImageRow): ImageRow {
  const out = { ...row };
  for (const column of NUMERIC) out[column] = Number(row[column]);
  out.duration_ms = row.duration_ms === null ? null : Number(row.duration_ms);
  return out;
}

/** Bytes an image occupies in the store: the original, both derivatives and a video's playback copy. */
export const storedBytes = (
  row: Pick<ImageRow, 'original_bytes' | 'thumbnail_bytes' | 'preview_bytes' | 'playback_bytes'>,
): number => row.original_bytes + row.thumbnail_bytes + row.preview_bytes + row.playback_bytes;

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

/** One page of a gallery, newest taken first, after `cursor` (keyset: stable while uploads happen). */
export async function listPage(
  db: Executor,
  ownerId: string,
  limit: number,
  cursor: PageCursor | undefined,
): Promise<ImageRow[]> {
  let query = db
    .selectFrom('images')
    .selectAll()
    .where('owner_id', '=', ownerId)
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

/**
 * Deletes an image's row. With `playbackBytes` (the row as read), nothing is deleted (false) when a
 * video's playback copy was recorded since, so the caller frees exactly the bytes the row held.
 */
export async function deleteImageRow(
  db: Executor,
  ownerId: string,
  id: string,
  playbackBytes?: number,
): Promise<boolean> {
  let query = db.deleteFrom('images').where('id', '=', id).where('owner_id', '=', ownerId);
  if (playbackBytes !== undefined) query = query.where('playback_bytes', '=', playbackBytes);
  const result = await query.executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** Records a video's playback copy once; false when the image is gone or its copy was recorded already. */
export async function markPlaybackReady(db: Executor, id: string, bytes: number): Promise<boolean> {
  const result = await db
    .updateTable('images')
    .set({ playback_state: 'ready', playback_bytes: bytes })
    .where('id', '=', id)
    .where('playback_state', '=', 'preparing')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** A video whose playback copy could not be made: its owner is told, and the original still plays where it can. */
export async function markPlaybackFailed(db: Executor, id: string): Promise<void> {
  await db
    .updateTable('images')
    .set({ playback_state: 'failed' })
    .where('id', '=', id)
    .where('playback_state', '=', 'preparing')
    .execute();
}

/** Whether a row exists for the object prefix `<owner>/<image>/`; the sweeper keeps only those. */
export async function prefixExists(db: Executor, objectPrefix: string): Promise<boolean> {
  const row = await db.selectFrom('images').select('id').where('object_prefix', '=', objectPrefix).executeTakeFirst();
  return row !== undefined;
}
