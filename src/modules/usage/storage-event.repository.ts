import type { Insertable } from 'kysely';

import type { Executor } from '../../db/executor.js';
import type { StorageEventsTable } from '../../db/tables.js';
import { newId } from '../../lib/ids.js';

export type StorageEvent = Omit<Insertable<StorageEventsTable>, 'id'>;

/** Appends to the storage event log; rows are never updated or deleted by the application. */
export async function appendEvents(db: Executor, events: StorageEvent[]): Promise<void> {
  if (events.length === 0) return;
  await db
    .insertInto('storage_events')
    .values(events.map((event) => ({ id: newId(), ...event })))
    .execute();
}

/** Totals of the log for one user since `since`, by operation: the ground truth the counters must match. */
export async function sumEvents(
  db: Executor,
  userId: string,
  since: number,
): Promise<Record<StorageEvent['operation'], number>> {
  const rows = await db
    .selectFrom('storage_events')
    .select(['operation', (eb) => eb.fn.sum<number | string>('bytes').as('bytes')])
    .where('user_id', '=', userId)
    .where('at', '>=', since)
    .where('status', '<', 300)
    .groupBy('operation')
    .execute();
  const totals = { upload: 0, download: 0, delete: 0 };
  for (const row of rows) totals[row.operation] = Number(row.bytes ?? 0);
  return totals;
}
