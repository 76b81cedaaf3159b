import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

import { inProcessAuth } from '../clients/in-process.js';
import type { Config } from '../config/config.js';
import { registerDiskMetrics } from '../http/disk-metrics.js';
import type { Metrics } from '../http/metrics.js';
import { createServiceApp } from '../http/service-app.js';
import { uploadLimits } from '../http/upload-parts.js';
import { authServiceRoutes } from '../services/auth/auth.routes.js';
import { SERVICES, type ServiceName } from '../config/service-table.js';
import { storageMonitorRoutes } from '../services/storage-monitor/storage-monitor.routes.js';
import { instrumentImages } from '../services/storage/instrumented-images.js';
import { storageShareRoutes } from '../services/storage/share.routes.js';
import { storageServiceRoutes } from '../services/storage/storage.routes.js';
import { storageUploadRoutes } from '../services/storage/upload.routes.js';
import { usageMonitorRoutes } from '../services/usage-monitor/usage-monitor.routes.js';
import type { PixaCore } from './core.js';
import { dependencyChecks, watchedDirs } from './maintenance.js';
import { registerUploads } from './uploads.js';

export interface InternalAppDeps {
  config: Readonly<Config>;
  logger: Logger;
  metrics: Metrics;
  internalToken: string;
  core: PixaCore;
}

/** One internal service on its own port: its routes over the module, behind the internal token. */
export async function createInternalApp(
  service: Exclude<ServiceName, 'gateway'>,
  deps: InternalAppDeps,
): Promise<FastifyInstance> {
  const { config, logger, metrics, internalToken, core } = deps;
  const checks = dependencyChecks(core.database, SERVICES[service].store ? core.store : undefined, config);
  if (SERVICES[service].store) registerDiskMetrics(metrics, watchedDirs(config));
  const app = await createServiceApp({ service, config, logger, metrics, readiness: checks, internalToken });
  switch (service) {
    case 'auth':
      await app.register(authServiceRoutes, { auth: inProcessAuth(core.auth) });
      break;
    case 'storage': {
      await registerUploads(app, config);
      await app.register(storageServiceRoutes, {
        images: instrumentImages(core.images, metrics),
        albums: core.albums,
        store: core.store,
        limits: uploadLimits(config),
      });
      await app.register(storageUploadRoutes, { uploads: core.uploads });
      await app.register(storageShareRoutes, { sharing: core.sharing });
      break;
    }
    case 'storage-monitor':
      await app.register(storageMonitorRoutes, { usage: core.usage });
      break;
    case 'usage-monitor':
      await app.register(usageMonitorRoutes, { usage: core.usage });
      break;
  }
  return app;
}
