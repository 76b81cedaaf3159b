import type { StorageUsage, TransferUsage } from '../modules/usage/usage.service.js';
import type { UsageClient } from './clients.js';
import type { ServiceClient } from './http-client.js';

/** Storage usage from the storage monitor and transfer usage from the usage monitor, over HTTP. */
export function httpUsageClient(storageMonitor: ServiceClient, usageMonitor: ServiceClient): UsageClient {
  const user = (userId: string) => `/internal/users/${encodeURIComponent(userId)}`;
  return {
    storage: (userId) =>
      storageMonitor.json<StorageUsage>({ method: 'GET', path: `${user(userId)}/storage-usage`, retry: true }),
    transfer: (userId) =>
      usageMonitor.json<TransferUsage>({ method: 'GET', path: `${user(userId)}/transfer-usage`, retry: true }),
  };
}
