import type { Logger } from 'pino';

import type { Config } from '../config/config.js';
import type { Metrics } from '../http/metrics.js';
import { SERVICES, type ServiceName } from '../config/service-table.js';
import { httpAuthClient } from './auth.client.js';
import type { RemoteGatewayClients } from './clients.js';
import { createServiceClient, type ServiceClient } from './http-client.js';
import { httpStorageClient } from './image.client.js';
import { httpUploadsClient } from './upload.client.js';
import { httpSharesClient } from './share.client.js';
import { httpUsageClient } from './usage.client.js';

/**
 * The gateway's clients in pod mode: one keep-alive pool per service, at
 * `http://127.0.0.1:<port>` (the containers of a pod share one network namespace). What the gateway
 * reads itself completes them (app/gateway-reads.ts).
 */
export function httpGatewayClients(
  config: Readonly<Config>,
  deps: { internalToken: string; metrics: Metrics; logger: Logger },
): RemoteGatewayClients {
  const host = ['0.0.0.0', '::', ''].includes(config.internalHost) ? '127.0.0.1' : config.internalHost;
  const clientOf = (service: Exclude<ServiceName, 'gateway'>): ServiceClient =>
    createServiceClient({
      target: service,
      label: SERVICES[service].label,
      origin: `http://${host.includes(':') ? `[${host}]` : host}:${config.ports[service]}`,
      internalToken: deps.internalToken,
      metrics: deps.metrics,
      logger: deps.logger,
    });
  const auth = clientOf('auth');
  const storage = clientOf('storage');
  const storageMonitor = clientOf('storage-monitor');
  const usageMonitor = clientOf('usage-monitor');
  const pools = { auth, storage, 'storage-monitor': storageMonitor, 'usage-monitor': usageMonitor };
  const uploadTimeoutMs = config.requestTimeoutMs;
  return {
    forRequest(requestId) {
      const storageCalls = storage.forRequest(requestId);
      return {
        auth: httpAuthClient(auth.forRequest(requestId)),
        storage: httpStorageClient(storageCalls, { uploadTimeoutMs }),
        usage: httpUsageClient(storageMonitor.forRequest(requestId), usageMonitor.forRequest(requestId)),
        uploads: httpUploadsClient(storageCalls, { uploadTimeoutMs }),
        shares: httpSharesClient(storageCalls),
      };
    },
    readiness: Object.fromEntries(
      Object.entries(pools).map(([name, pool]) => [name, () => pool.json({ method: 'GET', path: '/readyz' })]),
    ),
    async close() {
      await Promise.all(Object.values(pools).map((pool) => pool.close()));
    },
  };
}
