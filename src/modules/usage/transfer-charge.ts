import type { Kysely } from 'kysely';

import type { DialectName } from '../../db/database.js';
import type { DB } from '../../db/tables.js';
import type { Executor } from '../../db/executor.js';
import { inTransaction } from '../../db/transaction.js';
import { utcDay } from '../../lib/time.js';
import { transferExceeded } from './quota-errors.js';
import { appendEvents, type StorageEvent } from './storage-event.repository.js';
import { reserveTransfer, transferOfDay } from './transfer.repository.js';

/** How a charged download is written to the event log, inside the transaction that charged it. */
export type RecordEvent = (trx: Executor, event: StorageEvent) => Promise<unknown>;

const appendOne: RecordEvent = (trx, event) => appendEvents(trx, [event]);

/**
 * Charges the bytes of a download to its owner's transfer of the day and logs it, in one transaction:
 * either both happen or, when the daily `quota` (0 = unlimited) has no room for them, a 429 that
 * names `what` and nothing is recorded. `record` appends the event by default.
 */
export async function chargeDownload(
  db: Kysely<DB>,
  dialect: DialectName,
  event: StorageEvent,
  quota: number,
  what: string,
  record: RecordEvent = appendOne,
): Promise<void> {
  await inTransaction(db, async (trx) => {
    const day = utcDay(event.at);
    if (!(await reserveTransfer(trx, dialect, event.user_id, day, 'out', event.bytes, quota))) {
      const today = await transferOfDay(trx, event.user_id, day);
      throw transferExceeded(event.at, quota, today.bytesIn + today.bytesOut, event.bytes, what);
    }
    await record(trx, event);
  });
}

/**
 * Charges the bytes an upload received before it was refused to its owner's transfer 'in' of the day
 * and logs them as an upload event with the refusal's status, in one transaction. Unconditional: the
 * bytes have crossed the network already, so they count even beyond the quota (the account's next
 * upload is then refused before a byte is read).
 */
export async function chargeRefusedUpload(db: Kysely<DB>, dialect: DialectName, event: StorageEvent): Promise<void> {
  await inTransaction(db, async (trx) => {
    await reserveTransfer(trx, dialect, event.user_id, utcDay(event.at), 'in', event.bytes, 0);
    await appendEvents(trx, [event]);
  });
}
