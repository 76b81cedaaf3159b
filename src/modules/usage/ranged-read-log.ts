import type { Kysely } from 'kysely';

import type { DialectName } from '../../db/database.js';
import type { Executor } from '../../db/executor.js';
import type { DB } from '../../db/tables.js';
import { utcDay } from '../../lib/time.js';
import { addToEvent, appendEvent, type StorageEvent } from './storage-event.repository.js';
import { chargeDownload } from './transfer-charge.js';

/**
 * Logs ranged reads (HTTP 206) of one object by one client as one event row whose bytes grow, instead
 * of one row per request: a video player or a download manager asks for thousands of ranges, and a
 * signed link lets anyone ask for millions of 1-byte ones.
 */
export interface RangedReadLog {
  /**
   * Records `event` (a ranged read, already charged) inside `trx`, the transaction that charged it,
   * so the log and the transfer counter still change together. Reads of the same object by the same
   * `client` (the caller's notion: an address, a session) on the same UTC day, each within
   * `windowMs` of the previous one, add to one row.
   */
  record(trx: Executor, event: StorageEvent, client: string): Promise<void>;
}

interface OpenRow {
  id: string;
  lastAt: number;
}

/** Rows remembered per process; past this, the oldest are forgotten (their next read starts a new row). */
const MAX_OPEN_ROWS = 10_000;

export function createRangedReadLog(options: { windowMs?: number } = {}): RangedReadLog {
  const windowMs = options.windowMs ?? 5 * 60 * 1000;
  const open = new Map<string, OpenRow>();

  function forgetStale(at: number): void {
    for (const [key, row] of open) if (at - row.lastAt > windowMs) open.delete(key);
    // Map keeps insertion order: the first keys are the oldest rows.
    for (const key of open.keys()) {
      if (open.size <= MAX_OPEN_ROWS) break;
      open.delete(key);
    }
  }

  return {
    async record(trx, event, client) {
      const key = `${event.user_id}\n${event.object_key}\n${client}\n${utcDay(event.at)}`;
      const row = open.get(key);
      // A row rolled up or never committed (its transaction rolled back) is simply not found.
      if (row && event.at - row.lastAt <= windowMs && (await addToEvent(trx, row.id, event.user_id, event.bytes))) {
        row.lastAt = Math.max(row.lastAt, event.at);
        return;
      }
      const id = await appendEvent(trx, event);
      open.delete(key);
      open.set(key, { id, lastAt: event.at });
      if (open.size > MAX_OPEN_ROWS) forgetStale(event.at);
    },
  };
}

/**
 * What the media path calls for a ranged read (206) instead of `chargeDownload`: the same charge
 * against the daily transfer quota in one transaction, with the event added to the client's open row
 * for that object rather than appended. `client` identifies the reader (its address, or its session).
 */
export const chargeRangedRead = (
  db: Kysely<DB>,
  dialect: DialectName,
  log: RangedReadLog,
  event: StorageEvent,
  client: string,
  quota: number,
  what: string,
): Promise<void> => chargeDownload(db, dialect, event, quota, what, (trx, e) => log.record(trx, e, client));
