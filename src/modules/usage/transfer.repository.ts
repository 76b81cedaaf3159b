import type { ExpressionBuilder } from 'kysely';

import type { DialectName } from '../../db/database.js';
import type { Executor } from '../../db/executor.js';
import type { DB } from '../../db/tables.js';

export type Direction = 'in' | 'out';

export interface TransferTotals {
  bytesIn: number;
  bytesOut: number;
  /** Held for resumable uploads created this day, counted against the quota. */
  bytesReserved: number;
}

/**
 * Adds `bytes` to a user's transfer of `day` only if in + out stays within `quota` (0 = no limit):
 * one conditional UPDATE on a row that is created first if missing, so concurrent requests cannot
 * overshoot. The UPDATE locks the row and re-reads it after any concurrent writer commits (READ
 * COMMITTED on PostgreSQL and MySQL, one writer at a time on SQLite). Returns false when the quota
 * would be exceeded.
 */
export async function reserveTransfer(
  db: Executor,
  dialect: DialectName,
  userId: string,
  day: string,
  direction: Direction,
  bytes: number,
  quota: number,
): Promise<boolean> {
  await ensureDayRow(db, dialect, userId, day);
  const column = direction === 'in' ? 'bytes_in' : 'bytes_out';
  let query = db
    .updateTable('transfer_daily')
    .set((eb) => ({ [column]: eb(column, '+', bytes) }))
    .where('user_id', '=', userId)
    .where('day', '=', day);
  if (quota > 0) query = query.where((eb) => eb(eb(dayTotal(eb), '+', bytes), '<=', quota));
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** in + out + held: what the day's quota counts. */
const dayTotal = (eb: ExpressionBuilder<DB, 'transfer_daily'>) =>
  eb(eb('bytes_in', '+', eb.ref('bytes_out')), '+', eb.ref('bytes_reserved'));

/**
 * Holds `bytes` of `day`'s transfer for a resumable upload, under the same condition as
 * reserveTransfer. Returns false when they do not fit.
 */
export async function holdTransfer(
  db: Executor,
  dialect: DialectName,
  userId: string,
  day: string,
  bytes: number,
  quota: number,
): Promise<boolean> {
  await ensureDayRow(db, dialect, userId, day);
  let query = db
    .updateTable('transfer_daily')
    .set((eb) => ({ bytes_reserved: eb('bytes_reserved', '+', bytes) }))
    .where('user_id', '=', userId)
    .where('day', '=', day);
  if (quota > 0) query = query.where((eb) => eb(eb(dayTotal(eb), '+', bytes), '<=', quota));
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Gives back what holdTransfer held on `day`; never below zero. */
export async function releaseHeldTransfer(db: Executor, userId: string, day: string, bytes: number): Promise<void> {
  if (bytes <= 0) return;
  await db
    .updateTable('transfer_daily')
    .set((eb) => ({ bytes_reserved: eb('bytes_reserved', '-', bytes) }))
    .where('user_id', '=', userId)
    .where('day', '=', day)
    .where('bytes_reserved', '>=', bytes)
    .execute();
}

export async function transferOfDay(db: Executor, userId: string, day: string): Promise<TransferTotals> {
  const row = await db
    .selectFrom('transfer_daily')
    .select(['bytes_in', 'bytes_out', 'bytes_reserved'])
    .where('user_id', '=', userId)
    .where('day', '=', day)
    .executeTakeFirst();
  return {
    bytesIn: Number(row?.bytes_in ?? 0),
    bytesOut: Number(row?.bytes_out ?? 0),
    bytesReserved: Number(row?.bytes_reserved ?? 0),
  };
}

/**
 * Creates the user's row for `day` unless it exists. MySQL has no `on conflict do nothing`; its
 * `insert ignore` would also hide other errors and, on a duplicate, takes a shared lock that
 * deadlocks two such transactions when both go on to UPDATE the row. A no-op `on duplicate key
 * update` takes the exclusive lock straight away instead.
 */
async function ensureDayRow(db: Executor, dialect: DialectName, userId: string, day: string): Promise<void> {
  const insert = db.insertInto('transfer_daily').values({ user_id: userId, day, bytes_in: 0, bytes_out: 0 });
  if (dialect === 'mysql') {
    await insert.onDuplicateKeyUpdate((eb) => ({ user_id: eb.ref('user_id') })).execute();
  } else {
    await insert.onConflict((oc) => oc.columns(['user_id', 'day']).doNothing()).execute();
  }
}
