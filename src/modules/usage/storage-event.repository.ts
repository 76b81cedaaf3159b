import type { Insertable, Selectable } from 'kysely';

import type { DialectName } from '../../db/database.js';
import type { Executor } from '../../db/executor.js';
import type { StorageEventDaysTable, StorageEventsTable } from '../../db/tables.js';
import { newId } from '../../lib/ids.js';
import { utcDay } from '../../lib/time.js';

export type StorageEvent = Omit<Insertable<StorageEventsTable>, 'id'>;
export type StoredEvent = Selectable<StorageEventsTable>;
export type EventDay = Selectable<StorageEventDaysTable>;

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Appends to the storage event log. Rows are only ever changed by the coalescing of ranged reads
 * (which adds bytes to its own row) and the roll-up (which moves old rows into daily totals).
 */
export async function appendEvents(db: Executor, events: StorageEvent[]): Promise<void> {
  if (events.length === 0) return;
  await db
    .insertInto('storage_events')
    .values(events.map((event) => ({ id: newId(), ...event })))
    .execute();
}

/** Appends one event and returns its id, for a caller that may add to it later. */
export async function appendEvent(db: Executor, event: StorageEvent): Promise<string> {
  const id = newId();
  await db
    .insertInto('storage_events')
    .values({ id, ...event })
    .execute();
  return id;
}

/** Adds `bytes` to the event `id` of `userId`; false when that row is gone (rolled up meanwhile). */
export async function addToEvent(db: Executor, id: string, userId: string, bytes: number): Promise<boolean> {
  const result = await db
    .updateTable('storage_events')
    .set((eb) => ({ bytes: eb('bytes', '+', bytes) }))
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * Totals of the log for one user since `since`, by operation: the ground truth the counters must
 * match. Days already rolled up count when they start at or after `since` (a roll-up keeps no time
 * finer than the day).
 */
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
  const firstWholeDay = utcDay(Math.ceil(Math.max(0, since) / DAY_MS) * DAY_MS);
  const days = await db
    .selectFrom('storage_event_days')
    .select(['operation', (eb) => eb.fn.sum<number | string>('bytes').as('bytes')])
    .where('user_id', '=', userId)
    .where('day', '>=', firstWholeDay)
    .groupBy('operation')
    .execute();
  const totals = { upload: 0, download: 0, delete: 0 };
  for (const row of [...rows, ...days]) totals[row.operation] += Number(row.bytes ?? 0);
  return totals;
}

/** Up to `limit` events older than `before`, oldest first: the next batch for the roll-up. */
export async function eventsBefore(db: Executor, before: number, limit: number): Promise<StoredEvent[]> {
  const rows = await db
    .selectFrom('storage_events')
    .selectAll()
    .where('at', '<', before)
    .orderBy('at')
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map((row) => ({ ...row, at: Number(row.at), bytes: Number(row.bytes), status: Number(row.status) }));
}

/** Deletes the events `ids` and returns how many were still there. */
export async function deleteEvents(db: Executor, ids: readonly string[]): Promise<number> {
  let deleted = 0;
  // Chunks keep each statement far below every dialect's limit on bound parameters.
  for (let i = 0; i < ids.length; i += 500) {
    const result = await db
      .deleteFrom('storage_events')
      .where('id', 'in', ids.slice(i, i + 500))
      .executeTakeFirst();
    deleted += Number(result.numDeletedRows);
  }
  return deleted;
}

/** Adds daily totals to what the roll-up table already holds for each (user, day, operation). */
export async function addEventDays(db: Executor, dialect: DialectName, days: readonly EventDay[]): Promise<void> {
  for (const day of days) {
    const insert = db.insertInto('storage_event_days').values(day);
    if (dialect === 'mysql') {
      await insert
        .onDuplicateKeyUpdate((eb) => ({
          events: eb('events', '+', day.events),
          bytes: eb('bytes', '+', day.bytes),
        }))
        .execute();
    } else {
      await insert
        .onConflict((oc) =>
          oc.columns(['user_id', 'day', 'operation']).doUpdateSet((eb) => ({
            events: eb('storage_event_days.events', '+', day.events),
            bytes: eb('storage_event_days.bytes', '+', day.bytes),
          })),
        )
        .execute();
    }
  }
}

/** The rolled-up days of one user, oldest first. */
export async function eventDaysOf(db: Executor, userId: string): Promise<EventDay[]> {
  const rows = await db
    .selectFrom('storage_event_days')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('day')
    .orderBy('operation')
    .execute();
  return rows.map((row) => ({ ...row, events: Number(row.events), bytes: Number(row.bytes) }));
}
