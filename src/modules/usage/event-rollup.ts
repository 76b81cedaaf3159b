import type { Kysely } from 'kysely';

import type { DialectName } from '../../db/database.js';
import type { DB } from '../../db/tables.js';
import { inTransaction } from '../../db/transaction.js';
import { utcDay } from '../../lib/time.js';
import { addEventDays, deleteEvents, eventsBefore, type EventDay } from './storage-event.repository.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const BATCH = 2000;

export interface RollupOptions {
  /** Whole UTC days of events kept row by row; older days become one total per account and operation. */
  retentionDays: number;
  now?: number;
  batchSize?: number;
}

/** Thrown inside the transaction when another replica rolled up some of the same events first. */
class TakenElsewhere extends Error {}

/**
 * Folds events of days older than the retention period into daily per-account totals and deletes
 * them, batch by batch, each batch in one transaction (totals added and rows deleted together, so
 * sums over the log never change). Safe with several replicas at once: a batch counts the rows its
 * DELETE removed, and when another replica took some of them first it rolls back and stops (that
 * replica is doing the work). Returns how many events it rolled up.
 */
export async function rollUpEvents(db: Kysely<DB>, dialect: DialectName, options: RollupOptions): Promise<number> {
  const now = options.now ?? Date.now();
  const batchSize = options.batchSize ?? BATCH;
  // Only whole days: the first day kept starts at the UTC midnight `retentionDays` days ago.
  const before = Math.floor((now - options.retentionDays * DAY_MS) / DAY_MS) * DAY_MS;
  let total = 0;
  for (;;) {
    const events = await eventsBefore(db, before, batchSize);
    if (events.length === 0) return total;
    const days = new Map<string, EventDay>();
    for (const event of events) {
      const day = utcDay(event.at);
      const key = `${event.user_id}\n${day}\n${event.operation}`;
      const entry = days.get(key) ?? { user_id: event.user_id, day, operation: event.operation, events: 0, bytes: 0 };
      entry.events += 1;
      if (event.status < 300) entry.bytes += event.bytes;
      days.set(key, entry);
    }
    try {
      await inTransaction(db, async (trx) => {
        // Delete first: the rows are locked from here on, and a replica that got there first shows.
        const deleted = await deleteEvents(
          trx,
          events.map((event) => event.id),
        );
        if (deleted !== events.length) throw new TakenElsewhere();
        await addEventDays(trx, dialect, [...days.values()]);
      });
    } catch (error) {
      if (error instanceof TakenElsewhere) return total;
      throw error;
    }
    total += events.length;
    if (events.length < batchSize) return total;
  }
}
