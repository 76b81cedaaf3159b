import type { Kysely } from 'kysely';

import type { DB } from '../../db/tables.js';
import { utcDay } from '../../lib/time.js';
import { appendEvents, type StorageEvent } from './storage-event.repository.js';

/** Appends storage events in batches, for events no quota depends on (thumbnail views). */
export interface EventBatcher {
  add(event: StorageEvent): void;
  /** Writes what is queued now. */
  flush(): Promise<void>;
  /** Stops the timer and writes what is left. */
  close(): Promise<void>;
}

/** Past this many queued events (the database down for a while), the oldest are dropped. */
const MAX_QUEUED = 50_000;

/**
 * Thumbnail views are logged like every served object, but one transaction (and, on SQLite with
 * synchronous=FULL, one disk sync) per thumbnail would cost more than serving it. They are written
 * together, at most `intervalMs` late; a crash loses at most that much of the log, never a counter.
 * Views of the same object by the same account on the same UTC day that wait in the same batch
 * become one row with their bytes added: a gallery reloaded in a loop grows the log by one row per
 * thumbnail per interval, not one per view.
 */
export function createEventBatcher(
  db: Kysely<DB>,
  options: { intervalMs?: number; maxBatch?: number; onError?: (error: unknown) => void } = {},
): EventBatcher {
  const { intervalMs = 1000, maxBatch = 500, onError = () => undefined } = options;
  let queue: StorageEvent[] = [];
  /** Queued events not yet taken by a write, by what makes two of them one row. */
  const pending = new Map<string, StorageEvent>();
  const keyOf = (event: StorageEvent): string =>
    `${event.user_id}\n${event.object_key}\n${event.operation}\n${event.status}\n${utcDay(event.at)}`;
  let writing: Promise<void> = Promise.resolve();
  /** A flush queued behind the one writing, not started yet: one is enough, however often asked. */
  let waiting: Promise<void> | undefined;

  const flush = (): Promise<void> => {
    if (waiting) return waiting;
    waiting = writing.then(async () => {
      waiting = undefined;
      while (queue.length > 0) {
        const batch = queue.slice(0, maxBatch);
        // From here on a new view starts a new row: bytes added to one being written could be lost.
        for (const event of batch) if (pending.get(keyOf(event)) === event) pending.delete(keyOf(event));
        try {
          await appendEvents(db, batch);
          queue = queue.slice(batch.length);
        } catch (error) {
          onError(error);
          if (queue.length > MAX_QUEUED) {
            queue = queue.slice(queue.length - MAX_QUEUED);
            pending.clear();
          }
          return;
        }
      }
    });
    writing = waiting;
    return waiting;
  };
  const timer = setInterval(() => void flush(), intervalMs);
  timer.unref();

  return {
    add(event) {
      const key = keyOf(event);
      const same = pending.get(key);
      if (same) {
        same.bytes += event.bytes;
        return;
      }
      const own = { ...event };
      pending.set(key, own);
      queue.push(own);
      if (queue.length >= maxBatch) void flush();
    },
    flush,
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}
