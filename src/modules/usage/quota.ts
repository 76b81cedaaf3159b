import type { UserRow } from '../auth/user.repository.js';

export interface QuotaDefaults {
  storageQuotaBytes: number;
  dailyTransferBytes: number;
}

/** The account's own quota when the administrator set one, else the configured default; 0 = unlimited. */
export const storageQuotaOf = (user: UserRow, defaults: QuotaDefaults): number =>
  user.storage_quota_bytes ?? defaults.storageQuotaBytes;

export const transferQuotaOf = (user: UserRow, defaults: QuotaDefaults): number =>
  user.daily_transfer_bytes ?? defaults.dailyTransferBytes;
