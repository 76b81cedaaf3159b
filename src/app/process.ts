import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

import { httpGatewayClients } from '../clients/http-clients.js';
import type { Config } from '../config/config.js';
import { createMetrics } from '../http/metrics.js';
import { createMediaUrlSigner } from '../modules/images/media-url.js';
import { SERVICE_NAMES, type ServiceName } from '../config/service-table.js';
import { authSecret, createCore, internalToken, processLogger, type PixaOptions } from './core.js';
import { createPixa } from './embedded.js';
import { createGatewayApp } from './gateway-app.js';
import { openGatewayReads } from './gateway-reads.js';
import { createInternalApp } from './internal-app.js';
import { scheduleSweeps } from './maintenance.js';

/** One listening service of a running process. */
export interface Listener {
  service: ServiceName;
  app: FastifyInstance;
  host: string;
  port: number;
}

/** The services one `pixa serve` runs, in either mode. */
export interface PixaProcess {
  logger: Logger;
  listeners: Listener[];
  /** Starts every listener; returns their addresses. */
  listen(): Promise<string[]>;
  /** Stops accepting, lets in-flight requests finish, then closes pools, the database and the store. */
  close(): Promise<void>;
}

/**
 * Builds the services `config.services` names. Embedded: one process with every service in it, the
 * gateway on the public port; an internal service listed explicitly also gets its own port.
 * Pod: each listed service on its own port, the gateway calling the others over HTTP.
 */
export async function createPixaProcess(config: Readonly<Config>, options: PixaOptions = {}): Promise<PixaProcess> {
  const logger =
    options.logger ?? processLogger(config, config.mode === 'embedded' ? 'pixa' : config.services.join(','));
  const metrics = options.metrics ?? createMetrics({ processMetrics: true });
  const closers: (() => Promise<void>)[] = [];
  const listeners: Listener[] = [];
  const internal = config.services.filter(
    (service): service is Exclude<ServiceName, 'gateway'> => service !== 'gateway',
  );
  const port = (service: ServiceName) => ({
    host: service === 'gateway' ? config.host : config.internalHost,
    port: config.ports[service],
  });

  async function close(): Promise<void> {
    // Last opened, first closed: the public gateway stops before the services and pools it uses.
    for (const closer of closers.reverse()) await closer();
  }

  try {
    if (config.mode === 'embedded') {
      const pixa = await createPixa(config, { ...options, logger, metrics });
      closers.push(() => pixa.close());
      // Every service runs in process; only ones named on their own get a port of their own.
      const exposed = internal.length === SERVICE_NAMES.length - 1 ? [] : internal;
      const token = exposed.length > 0 ? await internalToken(config) : '';
      for (const service of exposed) {
        const app = await createInternalApp(service, { config, logger, metrics, internalToken: token, core: pixa });
        closers.push(() => app.close());
        listeners.push({ service, app, ...port(service) });
      }
      if (config.services.includes('gateway'))
        listeners.unshift({ service: 'gateway', app: pixa.app, ...port('gateway') });
    } else {
      const token = await internalToken(config);
      const needsCore = internal.length > 0;
      const core = needsCore ? await createCore(config, { ...options, logger }) : undefined;
      if (core) closers.push(() => core.close());
      for (const service of internal) {
        const app = await createInternalApp(service, { config, logger, metrics, internalToken: token, core: core! });
        closers.push(() => app.close());
        listeners.push({ service, app, ...port(service) });
      }
      if (core && internal.includes('storage')) {
        const sweeper = scheduleSweeps(config, core.database, core.store, logger, core.images, core.uploads);
        closers.push(async () => clearInterval(sweeper));
        // Jobs run where the bytes are: in the storage service (core.close() stops the worker).
        core.startJobWorker();
      }
      if (config.services.includes('gateway')) {
        const mediaUrls = createMediaUrlSigner(await authSecret(config), config.mediaUrlTtlSeconds, options.now);
        // Sessions, gallery pages and media are read here from the shared database and store.
        const reads = await openGatewayReads(config, { logger, metrics, mediaUrls, now: options.now });
        closers.push(() => reads.close());
        const clients = reads.over(httpGatewayClients(config, { internalToken: token, metrics, logger }));
        closers.push(() => clients.close());
        const app = await createGatewayApp(config, { logger, metrics, clients, mediaUrls, remoteClients: true });
        closers.push(() => app.close());
        listeners.unshift({ service: 'gateway', app, ...port('gateway') });
      }
    }
  } catch (error) {
    await close();
    throw error;
  }

  return {
    logger,
    listeners,
    async listen() {
      const addresses: string[] = [];
      for (const listener of listeners) {
        const address = await listener.app.listen({ host: listener.host, port: listener.port });
        logger.info({ listener: listener.service, address, mode: config.mode }, 'listening');
        addresses.push(address);
      }
      return addresses;
    },
    close,
  };
}
