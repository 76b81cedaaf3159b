import type { Selectable } from 'kysely';

import type { Executor } from '../../db/executor.js';
import type { UploadPartsTable, UploadsTable } from '../../db/tables.js';

export type UploadRow = Selectable<UploadsTable>;
export type UploadPartRow = Selectable<UploadPartsTable>;

/** BIGINT columns may arrive as strings (driver-dependent); rows leave this module as numbers. */
function toUploadRow(row: UploadRow): UploadRow {
  return {
    ...row,
    length: Number(row.length),
    received_bytes: Number(row.received_bytes),
    reserved_storage: Number(row.reserved_storage),
    reserved_transfer: Number(row.reserved_transfer),
    created_at: Number(row.created_at),
    updated_at: Number(row.updated_at),
    expires_at: Number(row.expires_at),
  };
}

export async function insertUpload(db: Executor, row: UploadRow): Promise<void> {
  await db.insertInto('uploads').values(row).execute();
}

/** The owner's upload, or undefined: another account's upload is not found, like a missing one. */
export async function findUpload(db: Executor, ownerId: string, id: string): Promise<UploadRow | undefined> {
  const row = await db
    .selectFrom('uploads')
    .selectAll()
    .where('id', '=', id)
    .where('owner_id', '=', ownerId)
    .executeTakeFirst();
  return row && toUploadRow(row);
}

export async function findUploadById(db: Executor, id: string): Promise<UploadRow | undefined> {
  const row = await db.selectFrom('uploads').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toUploadRow(row);
}

/**
 * Records a stored part: moves the offset from `start` to `start + bytes` only if the upload is still
 * open at `start` (another request may have appended or ended it meanwhile), and adds the part's row.
 * Returns false, with nothing written, when the offset had moved.
 */
export async function appendPart(db: Executor, part: UploadPartRow, at: number, expiresAt: number): Promise<boolean> {
  const result = await db
    .updateTable('uploads')
    .set({ received_bytes: part.start + part.bytes, updated_at: at, expires_at: expiresAt })
    .where('id', '=', part.upload_id)
    .where('state', '=', 'open')
    .where('received_bytes', '=', part.start)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) === 0) return false;
  await db.insertInto('upload_parts').values(part).execute();
  return true;
}

export async function listParts(db: Executor, uploadId: string): Promise<UploadPartRow[]> {
  const rows = await db
    .selectFrom('upload_parts')
    .selectAll()
    .where('upload_id', '=', uploadId)
    .orderBy('start')
    .execute();
  return rows.map((row) => ({ ...row, start: Number(row.start), bytes: Number(row.bytes) }));
}

export async function deleteParts(db: Executor, uploadId: string): Promise<void> {
  await db.deleteFrom('upload_parts').where('upload_id', '=', uploadId).execute();
}

/**
 * Takes a complete upload for processing: only one request on one replica wins. One left in
 * `processing` by a process that died is taken again once it is older than `staleBefore`.
 */
export async function claimCompletion(db: Executor, id: string, at: number, staleBefore: number): Promise<boolean> {
  const result = await db
    .updateTable('uploads')
    .set({ state: 'processing', updated_at: at })
    .where('id', '=', id)
    .where((eb) => eb('received_bytes', '=', eb.ref('length')))
    .where((eb) =>
      eb.or([eb('state', '=', 'open'), eb.and([eb('state', '=', 'processing'), eb('updated_at', '<', staleBefore)])]),
    )
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Marks the upload as ended (or back to open after a failure that was not its fault). */
export async function setOutcome(
  db: Executor,
  id: string,
  outcome: { state: UploadRow['state']; result: string | null; at: number },
): Promise<void> {
  await db
    .updateTable('uploads')
    .set({ state: outcome.state, result: outcome.result, updated_at: outcome.at })
    .where('id', '=', id)
    .execute();
}

/**
 * Forgets what the upload reserved, if it still holds what `row` says (a reservation only ever goes
 * to zero): true for the one request that takes it, which then gives it back. A write first, so that
 * SQLite takes its write lock before anything is read.
 */
export async function clearReservation(db: Executor, row: UploadRow): Promise<boolean> {
  if (row.reserved_storage === 0 && row.reserved_transfer === 0) return false;
  const result = await db
    .updateTable('uploads')
    .set({ reserved_storage: 0, reserved_transfer: 0 })
    .where('id', '=', row.id)
    .where('reserved_storage', '=', row.reserved_storage)
    .where('reserved_transfer', '=', row.reserved_transfer)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * Removes the upload's row and its parts' rows, if it still holds what `row` says and (with
 * `expiredBefore`) has expired: false when another request changed or removed it first.
 */
export async function deleteUpload(db: Executor, row: UploadRow, expiredBefore?: number): Promise<boolean> {
  let query = db
    .deleteFrom('uploads')
    .where('id', '=', row.id)
    .where('reserved_storage', '=', row.reserved_storage)
    .where('reserved_transfer', '=', row.reserved_transfer)
    .where('state', '<>', 'processing');
  if (expiredBefore !== undefined) query = query.where('expires_at', '<', expiredBefore);
  const result = await query.executeTakeFirst();
  if (Number(result.numDeletedRows) === 0) return false;
  await deleteParts(db, row.id);
  return true;
}

/** Ids of uploads past their expiry, oldest first. */
export async function expiredUploadIds(db: Executor, at: number, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom('uploads')
    .select('id')
    .where('expires_at', '<', at)
    .orderBy('expires_at')
    .limit(limit)
    .execute();
  return rows.map((row) => row.id);
}

export async function uploadExists(db: Executor, id: string): Promise<boolean> {
  return (await db.selectFrom('uploads').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
}

/** Which of `hashes` the owner's images have. */
export async function knownHashes(db: Executor, ownerId: string, hashes: string[]): Promise<string[]> {
  const known: string[] = [];
  // Bounded IN lists: every dialect takes a few hundred parameters comfortably.
  for (let i = 0; i < hashes.length; i += 500) {
    const rows = await db
      .selectFrom('images')
      .select('sha256')
      .where('owner_id', '=', ownerId)
      .where('sha256', 'in', hashes.slice(i, i + 500))
      .execute();
    known.push(...rows.map((row) => row.sha256));
  }
  return known;
}
