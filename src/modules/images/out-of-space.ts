/** Error names and codes object stores use for a full store or a quota of the account or bucket. */
const FULL_STORE_CODES = new Set([
  'InsufficientStorage',
  'QuotaExceeded',
  'XMinioStorageFull',
  'XMinioAdminBucketQuotaExceeded',
  'AccountLimitExceeded',
  'ContainerQuotaExceeded',
]);

/**
 * True when an error, or one it wraps, means there is no room left to write: ENOSPC or EDQUOT from a
 * disk or volume, a 507 from an HTTP store, or a store's quota-exceeded code. Such a failure is not
 * a bug (500) nor a store that is down (503): the operator has to make room.
 */
export function isOutOfSpace(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 5) return false;
  const e = error as {
    code?: unknown;
    name?: unknown;
    statusCode?: unknown;
    $metadata?: { httpStatusCode?: unknown };
    cause?: unknown;
  };
  if (e.code === 'ENOSPC' || e.code === 'EDQUOT') return true;
  if (e.statusCode === 507 || e.$metadata?.httpStatusCode === 507) return true;
  if (
    (typeof e.code === 'string' && FULL_STORE_CODES.has(e.code)) ||
    (typeof e.name === 'string' && FULL_STORE_CODES.has(e.name))
  ) {
    return true;
  }
  return e.cause !== undefined && e.cause !== error && isOutOfSpace(e.cause, depth + 1);
}
