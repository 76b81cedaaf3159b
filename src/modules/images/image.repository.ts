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
] as const;

function toImageRow(row: ImageRow): ImageRow {
  const out = { ...row };
  for (const column of NUMERIC) out[column] = Number(row[column]);
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

export async function deleteImageRow(db: Executor, ownerId: string, id: string): Promise<boolean> {
  const result = await db.deleteFrom('images').where('id', '=', id).where('owner_id', '=', ownerId).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** Whether a row exists for the object prefix `<owner>/<image>/`; the sweeper keeps only those. */
export async function prefixExists(db: Executor, objectPrefix: string): Promise<boolean> {
  const row = await db.selectFrom('images').select('id').where('object_prefix', '=', objectPrefix).executeTakeFirst();
  return row !== undefined;
}
