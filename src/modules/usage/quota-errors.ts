import { AppError } from '../../lib/app-error.js';
import { mb } from '../../lib/format.js';
import { nextUtcMidnight } from '../../lib/time.js';

/** The 429 of a daily transfer quota that `wanted` more bytes would exceed, with when it resets. */
export function transferExceeded(at: number, quota: number, used: number, wanted: number, what: string): AppError {
  const seconds = Math.max(1, Math.ceil((nextUtcMidnight(at) - at) / 1000));
  // Round the whole wait up to minutes first, so it never reads "1 h 60 min".
  const totalMinutes = Math.ceil(seconds / 60);
  const hours = Math.floor(totalMinutes / 60);
  const wait = hours > 0 ? `${hours} h ${totalMinutes % 60} min` : `${totalMinutes} min`;
  return new AppError(
    'transfer_quota_exceeded',
    429,
    `Daily transfer quota reached: ${what} needs ${amount(wanted)}, and ${amount(used)} of your ${amount(quota)} ` +
      `for today are used. It resets at 00:00 UTC, in ${wait}.`,
    { 'retry-after': String(seconds) },
  );
}

/** The 429 of a storage quota that `wanted` more bytes would exceed. */
export const storageExceeded = (quota: number, used: number, wanted: number, what: string): AppError =>
  new AppError(
    'storage_quota_exceeded',
    429,
    `Storage quota reached: ${what} needs ${amount(wanted)}, but only ${amount(Math.max(0, quota - used))} of ` +
      `your ${amount(quota)} are free. Delete some photos to make room.`,
  );

/** Bytes as MB, the unit quotas are set in, or as KB where MB would round a real amount to "0.0 MB". */
const amount = (bytes: number): string =>
  bytes === 0 || bytes >= 51_200 ? mb(bytes) : `${Math.ceil(bytes / 1024)} KB`;
