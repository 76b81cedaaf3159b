import type { DialectName } from '../../db/database.js';
import type { Executor } from '../../db/executor.js';

export type Direction = 'in' | 'out';

export interface TransferTotals {
  bytesIn: number;
  bytesOut: number;
}

/**
 * Adds `bytes` to a user's transfer of `day` only if in + out stays within `quota` (0 = no limit):
 * one conditional UPDATE on a row that is created first if missing, so concurrent requests cannot
 * overshoot. Returns false when the quota would be exceeded.
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
  const row = { user_id: userId, day, bytes_in: 0, bytes_out: 0 };
  if (dialect === 'postgres') {
    await db
      .insertInto('transfer_daily')
      .values(row)
      .onConflict((oc) => oc.columns(['user_id', 'day']).doNothing())
      .execute();
  } else {
    await db.insertInto('transfer_daily').values(row).ignore().execute();
  }
  const column = direction === 'in' ? 'bytes_in' : 'bytes_out';
  let query = db
    .updateTable('transfer_daily')
    .set((eb) => ({ [column]: eb(column, '+', bytes) }))
    .where('user_id', '=', userId)
    .where('day', '=', day);
  if (quota > 0) {
    query = query.where((eb) => eb(eb(eb('bytes_in', '+', eb.ref('bytes_out')), '+', bytes), '<=', quota));
  }
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function transferOfDay(db: Executor, userId: string, day: string): Promise<TransferTotals> {
  const row = await db
    .selectFrom('transfer_daily')
    .select(['bytes_in', 'bytes_out'])
    .where('user_id', '=', userId)
    .where('day', '=', day)
    .executeTakeFirst();
  return { bytesIn: Number(row?.bytes_in ?? 0), bytesOut: Number(row?.bytes_out ?? 0) };
}
