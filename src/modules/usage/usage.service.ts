import type { Kysely } from 'kysely';

import type { StorageUsage, TransferUsage } from '../../api/usage.js';
import type { DB } from '../../db/tables.js';
import { unauthorized } from '../../lib/app-error.js';
import { nextUtcMidnight, toIso, utcDay } from '../../lib/time.js';
import { findUserById } from '../auth/user.repository.js';
import { trashedBytes } from '../images/image.repository.js';
import { storageQuotaOf, transferQuotaOf, type QuotaDefaults } from './quota.js';
import { transferOfDay } from './transfer.repository.js';

export type { StorageUsage, TransferUsage } from '../../api/usage.js';

export interface UsageService {
  /** What the storage monitor answers: bytes stored and the quota. */
  storage(userId: string): Promise<StorageUsage>;
  /** What the usage monitor answers: today's (UTC) transfer and the daily quota. */
  transfer(userId: string): Promise<TransferUsage>;
}

export function createUsageService(deps: { db: Kysely<DB>; quotas: QuotaDefaults; now?: () => number }): UsageService {
  const { db, quotas } = deps;
  const now = deps.now ?? Date.now;
  return {
    async storage(userId) {
      const user = await findUserById(db, userId);
      if (!user) throw unauthorized();
      return {
        usedBytes: user.storage_used_bytes,
        quotaBytes: storageQuotaOf(user, quotas),
        trashBytes: await trashedBytes(db, userId),
      };
    },
    async transfer(userId) {
      const user = await findUserById(db, userId);
      if (!user) throw unauthorized();
      const at = now();
      const day = utcDay(at);
      const { bytesIn, bytesOut } = await transferOfDay(db, userId, day);
      return {
        day,
        inBytes: bytesIn,
        outBytes: bytesOut,
        usedBytes: bytesIn + bytesOut,
        quotaBytes: transferQuotaOf(user, quotas),
        resetsAt: toIso(nextUtcMidnight(at)),
      };
    },
  };
}
