import { setTimeout as sleep } from 'node:timers/promises';

import type { Kysely, Transaction } from 'kysely';

import { isTransactionConflict } from './errors.js';
import type { DB } from './tables.js';

/** Tries before a deadlock reaches the caller. Each retry runs the whole transaction again. */
const ATTEMPTS = 5;
/** The first retry waits up to this long, each next one twice as long, with random jitter. */
const FIRST_BACKOFF_MS = 5;

/**
 * Runs `work` in a transaction, and runs it again when the database aborted it to break a deadlock
 * or a serialization conflict. InnoDB does that even to transactions that lock a single row, when
 * several insert the same new key and one rolls back; its manual says to be ready to retry. So
 * `work` must touch nothing but the database: a retry repeats all of it.
 */
export async function inTransaction<T>(db: Kysely<DB>, work: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction().execute(work);
    } catch (error) {
      if (attempt >= ATTEMPTS || !isTransactionConflict(error)) throw error;
      await sleep(Math.random() * FIRST_BACKOFF_MS * 2 ** (attempt - 1));
    }
  }
}
