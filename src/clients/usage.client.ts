import { internalRoutes } from '../api/internal.js';
import type { UsageClient } from './clients.js';
import type { ServiceCaller } from './http-client.js';
import { callInternal } from './internal-call.js';

/** Storage usage from the storage monitor and transfer usage from the usage monitor, over HTTP. */
export function httpUsageClient(storageMonitor: ServiceCaller, usageMonitor: ServiceCaller): UsageClient {
  return {
    storage: (userId) => callInternal(storageMonitor, internalRoutes.storageUsage, { params: { userId }, retry: true }),
    transfer: (userId) => callInternal(usageMonitor, internalRoutes.transferUsage, { params: { userId }, retry: true }),
  };
}
