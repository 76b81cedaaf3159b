import type { Kysely } from 'kysely';

import type { DB } from '../../db/tables.js';
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
 */
export function createEventBatcher(
  db: Kysely<DB>,
  options: { intervalMs?: number; maxBatch?: number; onError?: (error: unknown) => void } = {},
): EventBatcher {
  const { intervalMs = 1000, maxBatch = 500, onError = () => undefined } = options;
  let queue: StorageEvent[] = [];
  let writing: Promise<void> = Promise.resolve();
  /** A flush queued behind the one writing, not started yet: one is enough, however often asked. */
  let waiting: Promise<void> | undefined;

  const flush = (): Promise<void> => {
    if (waiting) return waiting;
    waiting = writing.then(async () => {
      waiting = undefined;
      while (queue.length > 0) {
        const batch = queue.slice(0, maxBatch);
        try {
          await appendEvents(db, batch);
          queue = queue.slice(batch.length);
        } catch (error) {
          onError(error);
          if (queue.length > MAX_QUEUED) queue = queue.slice(queue.length - MAX_QUEUED);
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
      queue.push(event);
      if (queue.length >= maxBatch) void flush();
    },
    flush,
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}
