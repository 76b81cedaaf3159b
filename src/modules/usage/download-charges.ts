import type { Kysely } from 'kysely';

import type { DialectName } from '../../db/database.js';
import type { DB } from '../../db/tables.js';
import { inTransaction } from '../../db/transaction.js';
import { utcDay } from '../../lib/time.js';
import { transferExceeded } from './quota-errors.js';
import { appendEvents, type StorageEvent } from './storage-event.repository.js';
import { reserveTransfer, transferOfDay } from './transfer.repository.js';

/**
 * Charges whole-object downloads (previews, originals) to their owners' transfer of the day, exactly,
 * with one transaction for every download waiting at that moment instead of one each (group commit).
 * The downloads of one account in a batch are charged by one conditional UPDATE of their sum when it
 * fits in the quota (then each of them fits); when it does not, each is charged by its own conditional
 * UPDATE, in arrival order, as far as the quota goes. Either way the quota is never exceeded, whatever
 * the number of connections or replicas.
 */
export interface DownloadCharges {
  /**
   * Resolves once `event.bytes` are charged and the event is logged, both committed; rejects with the
   * 429 when the day's `quota` (0 = unlimited) has no room left for them, and then records nothing.
   */
  charge(event: StorageEvent, quota: number, what: string): Promise<void>;
}

interface Waiting {
  event: StorageEvent;
  quota: number;
  what: string;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** Downloads charged in one transaction at most, so that one COMMIT never holds the database long. */
const MAX_BATCH = 256;

export function createDownloadCharges(db: Kysely<DB>, dialect: DialectName): DownloadCharges {
  let queue: Waiting[] = [];
  let flushing = false;

  async function flush(): Promise<void> {
    flushing = true;
    while (queue.length > 0) {
      const batch = queue.slice(0, MAX_BATCH);
      queue = queue.slice(batch.length);
      try {
        // Decided inside the transaction and acted on only once it committed: a retried transaction
        // (a deadlock on MySQL) decides again from scratch.
        const refused = await inTransaction(db, async (trx) => {
          const out = new Map<Waiting, number>();
          const charged: StorageEvent[] = [];
          for (const group of groupsOf(batch)) {
            const { user_id: userId, at } = group[0]!.event;
            const day = utcDay(at);
            const quota = group[0]!.quota;
            if (group.length > 1) {
              const sum = group.reduce((total, item) => total + item.event.bytes, 0);
              if (await reserveTransfer(trx, dialect, userId, day, 'out', sum, quota)) {
                for (const item of group) charged.push(item.event);
                continue;
              }
            }
            for (const item of group) {
              if (await reserveTransfer(trx, dialect, userId, day, 'out', item.event.bytes, quota)) {
                charged.push(item.event);
              } else {
                const today = await transferOfDay(trx, userId, day);
                out.set(item, today.bytesIn + today.bytesOut);
              }
            }
          }
          if (charged.length > 0) await appendEvents(trx, charged);
          return out;
        });
        for (const item of batch) {
          const used = refused.get(item);
          if (used === undefined) item.resolve();
          else item.reject(transferExceeded(item.event.at, item.quota, used, item.event.bytes, item.what));
        }
      } catch (error) {
        for (const item of batch) item.reject(error);
      }
    }
    flushing = false;
  }

  /** The batch by account, UTC day and quota (what one conditional UPDATE can charge together), in order. */
  function groupsOf(batch: Waiting[]): Waiting[][] {
    const groups = new Map<string, Waiting[]>();
    for (const item of batch) {
      const key = `${item.event.user_id}\n${utcDay(item.event.at)}\n${item.quota}`;
      const group = groups.get(key);
      if (group) group.push(item);
      else groups.set(key, [item]);
    }
    return [...groups.values()];
  }

  return {
    charge(event, quota, what) {
      return new Promise<void>((resolve, reject) => {
        queue.push({ event, quota, what, resolve, reject });
        // Whatever arrives while a transaction runs waits for the next one, together.
        if (!flushing) {
          flushing = true;
          setImmediate(() => void flush());
        }
      });
    },
  };
}
