import type { FastifyInstance } from 'fastify';

import type { GatewayClients, ServiceClients } from '../clients/clients.js';
import {
  inProcessAuth,
  inProcessShares,
  inProcessStorage,
  inProcessUploads,
  inProcessUsage,
} from '../clients/in-process.js';
import type { Config } from '../config/config.js';
import { registerDiskMetrics } from '../http/disk-metrics.js';
import { createMetrics, type Metrics } from '../http/metrics.js';
import { instrumentImages } from '../services/storage/instrumented-images.js';
import { createCore, type PixaCore, type PixaOptions } from './core.js';
import { createGatewayApp } from './gateway-app.js';
import { dependencyChecks, scheduleSweeps, watchedDirs } from './maintenance.js';

/** Embedded Pixa: the core plus the public gateway, whose clients call the services in process. */
export interface Pixa extends PixaCore {
  app: FastifyInstance;
  metrics: Metrics;
}

/**
 * One Pixa process in embedded mode: the core plus the public gateway on one Fastify instance, its
 * clients calling the other four services in process.
 */
export async function createPixa(config: Readonly<Config>, options: PixaOptions = {}): Promise<Pixa> {
  const core = await createCore(config, options);
  try {
    const metrics = options.metrics ?? createMetrics();
    registerDiskMetrics(metrics, watchedDirs(config));
    const images = inProcessStorage(instrumentImages(core.images, metrics), core.albums, core.store);
    const services: ServiceClients = {
      auth: inProcessAuth(core.auth),
      storage: images,
      usage: inProcessUsage(core.usage),
      uploads: inProcessUploads(core.uploads),
      shares: inProcessShares(core.sharing),
    };
    const clients: GatewayClients = {
      forRequest: () => services,
      readiness: dependencyChecks(core.database, core.store, config),
      close: async () => {},
    };
    const app = await createGatewayApp(config, {
      logger: core.logger,
      metrics,
      clients,
      mediaUrls: core.mediaUrls,
      remoteClients: false,
    });
    const sweeper = scheduleSweeps(config, core.database, core.store, core.logger, core.images, core.uploads);
    core.startJobWorker();
    return {
      ...core,
      app,
      metrics,
      async close() {
        clearInterval(sweeper);
        await app.close();
        await core.close();
      },
    };
  } catch (error) {
    await core.close();
    throw error;
  }
}
