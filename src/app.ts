import path from 'node:path';
import { fileURLToPath } from 'node:url';

import multipart from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

import { withAccountFanout } from './clients/account-fanout.js';
import type { GatewayClients } from './clients/clients.js';
import { httpGatewayClients } from './clients/http-clients.js';
import { inProcessAuth, inProcessStorage, inProcessUsage } from './clients/in-process.js';
import type { Config } from './config/config.js';
import { openDatabase, type Database } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { pingDatabase } from './db/ping.js';
import { configureDecoding } from './image/image-processor.js';
import { registerDiskMetrics } from './http/disk-metrics.js';
import { createMetrics, type Metrics } from './http/metrics.js';
import type { ReadinessCheck } from './http/probes.js';
import { createServiceApp } from './http/service-app.js';
import { registerWebUi } from './http/web-ui.js';
import { createLogger } from './lib/logger.js';
import { loadOrCreateSecret } from './lib/secrets.js';
import { createAuthService, type AuthService } from './modules/auth/auth.service.js';
import { createDeviceKeys } from './modules/auth/device-keys.js';
import { createLoginThrottle } from './modules/auth/login-throttle.js';
import { createTokenSigner } from './modules/auth/token.js';
import { assertFreeSpace, type WatchedDirs } from './modules/images/disk-space.js';
import { createImageService, type ImageService } from './modules/images/image.service.js';
import { createMediaUrlSigner, type MediaUrlSigner } from './modules/images/media-url.js';
import { sweepOrphans, sweepSafetyWindowMs } from './modules/images/sweeper.js';
import { createEventBatcher } from './modules/usage/event-batcher.js';
import { rollUpEvents } from './modules/usage/event-rollup.js';
import { createStagingBudget, removeStaleStagingFiles } from './modules/images/upload-staging.js';
import { createUsageService, type UsageService } from './modules/usage/usage.service.js';
import { authServiceRoutes } from './services/auth/auth.routes.js';
import { authRoutes } from './services/gateway/auth.routes.js';
import type { GatewayDeps } from './services/gateway/gateway-deps.js';
import { imageRoutes } from './services/gateway/image.routes.js';
import { legacyRoutes } from './services/gateway/legacy.routes.js';
import { usageRoutes } from './services/gateway/usage.routes.js';
import { SERVICE_NAMES, SERVICES, type ServiceName } from './config/service-table.js';
import { storageMonitorRoutes } from './services/storage-monitor/storage-monitor.routes.js';
import { instrumentImages } from './services/storage/instrumented-images.js';
import { storageServiceRoutes } from './services/storage/storage.routes.js';
import { usageMonitorRoutes } from './services/usage-monitor/usage-monitor.routes.js';
import { withSmallObjectCache } from './storage/cached-store.js';
import { createObjectStore, fileUrlPath } from './storage/create-store.js';
import type { ObjectStore } from './storage/object-store.js';

/** The package root: `web/dist` lives beside `src/` and `dist/`. */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The services of one process and what they run on, without any HTTP. */
export interface PixaCore {
  config: Readonly<Config>;
  database: Database;
  store: ObjectStore;
  auth: AuthService;
  images: ImageService;
  usage: UsageService;
  mediaUrls: MediaUrlSigner;
  logger: Logger;
  close(): Promise<void>;
}

/** Embedded Pixa: the core plus the public gateway, whose clients call the services in process. */
export interface Pixa extends PixaCore {
  app: FastifyInstance;
  metrics: Metrics;
}

export interface PixaOptions {
  logger?: Logger;
  now?: () => number;
  metrics?: Metrics;
}

/**
 * Opens the database (migrating it unless told not to) and the object store, and wires the services
 * with plain factories. The admin commands use this alone; `createPixa` adds the HTTP gateway.
 */
export async function createCore(config: Readonly<Config>, options: PixaOptions = {}): Promise<PixaCore> {
  const logger = options.logger ?? processLogger(config, 'pixa');
  // One budget per process: the decodes of every upload this process serves share it.
  configureDecoding({ concurrency: config.decodeConcurrency, memoryBytes: config.decodeMemoryBytes });
  const database = await openDatabase(config.databaseUrl, {
    poolSize: config.dbPoolSize,
    onIdleError: (error) => logger.warn({ err: error }, 'database connection lost; it will be replaced'),
  });
  let store: ObjectStore | undefined;
  try {
    if (config.autoMigrate) {
      const applied = await migrateToLatest(database.db);
      if (applied.length > 0) logger.info({ applied }, 'database migrated');
    }
    const backing = await createObjectStore(config.storageUrl, { azureConnectionString: config.azureConnectionString });
    store =
      config.cacheBytes > 0
        ? withSmallObjectCache(backing, { maxBytes: config.cacheBytes, maxObjectBytes: 256 * 1024 })
        : backing;
    const openedStore = store;
    const tmpDir = path.join(config.dataDir, 'tmp');
    const staleUploads = await removeStaleStagingFiles(tmpDir, sweepSafetyWindowMs(config.requestTimeoutMs));
    if (staleUploads > 0) logger.info({ removed: staleUploads }, 'removed staging files of interrupted uploads');
    const secret = await authSecret(config);
    const thumbnailEvents = createEventBatcher(database.db, {
      onError: (error) => logger.warn({ err: error }, 'writing thumbnail events failed; will retry'),
    });
    const quotas = { storageQuotaBytes: config.storageQuotaBytes, dailyTransferBytes: config.dailyTransferBytes };
    const mediaUrls = createMediaUrlSigner(secret, config.mediaUrlTtlSeconds, options.now);
    return {
      config,
      database,
      store,
      mediaUrls,
      logger,
      auth: createAuthService({
        db: database.db,
        signer: createTokenSigner(secret, config.authAlgorithm),
        throttle: createLoginThrottle(database.db),
        devices: createDeviceKeys(secret),
        tokenTtlSeconds: config.tokenTtlSeconds,
        signupPerHour: config.signupPerHour,
        now: options.now,
      }),
      images: createImageService({
        db: database.db,
        dialect: database.dialect,
        store,
        signer: mediaUrls,
        quotas,
        maxPixels: config.maxPixels,
        tmpDir,
        stagingBudget: createStagingBudget(config.stagingBytes),
        uploadsPerAccount: config.uploadsPerAccount,
        requestTimeoutMs: config.requestTimeoutMs,
        thumbnailEvents,
        now: options.now,
      }),
      usage: createUsageService({ db: database.db, quotas, now: options.now }),
      async close() {
        await thumbnailEvents.close().catch(() => undefined);
        await openedStore.close();
        await database.close();
      },
    };
  } catch (error) {
    await store?.close();
    await database.close();
    throw error;
  }
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
    const images = inProcessStorage(instrumentImages(core.images, metrics), core.store);
    const clients: GatewayClients = {
      auth: inProcessAuth(core.auth, core.database.db),
      storage: images,
      usage: inProcessUsage(core.usage),
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
    const sweeper = scheduleSweeps(config, core.database, core.store, core.logger);
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
        const sweeper = scheduleSweeps(config, core.database, core.store, logger);
        closers.push(async () => clearInterval(sweeper));
      }
      if (config.services.includes('gateway')) {
        const clients = httpGatewayClients(config, { internalToken: token, metrics, logger });
        closers.push(() => clients.close());
        const mediaUrls = createMediaUrlSigner(await authSecret(config), config.mediaUrlTtlSeconds, options.now);
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

interface GatewayAppDeps {
  logger: Logger;
  metrics: Metrics;
  clients: GatewayClients;
  mediaUrls: MediaUrlSigner;
  /** The clients call the other services over HTTP (pod mode), not in process. */
  remoteClients: boolean;
}

/** The public gateway: web UI, public API and the original Pixa's endpoints, over its clients. */
async function createGatewayApp(config: Readonly<Config>, deps: GatewayAppDeps): Promise<FastifyInstance> {
  const { logger, metrics, clients, mediaUrls } = deps;
  const app = await createServiceApp({
    service: 'gateway',
    config,
    logger,
    metrics,
    readiness: clients.readiness,
    openapi: true,
    callsOtherServices: deps.remoteClients,
  });
  await registerUploads(app, config);
  const gateway: GatewayDeps = {
    config,
    auth: withAccountFanout(clients.auth, clients.storage, logger),
    images: clients.storage,
    usage: clients.usage,
    mediaUrls,
  };
  await app.register(authRoutes, gateway);
  await app.register(imageRoutes, gateway);
  await app.register(usageRoutes, gateway);
  await app.register(legacyRoutes, gateway);
  await registerWebUi(app, { distDir: path.join(ROOT, 'web', 'dist') });
  return app;
}

interface InternalAppDeps {
  config: Readonly<Config>;
  logger: Logger;
  metrics: Metrics;
  internalToken: string;
  core: PixaCore;
}

/** One internal service on its own port: its routes over the module, behind the internal token. */
async function createInternalApp(
  service: Exclude<ServiceName, 'gateway'>,
  deps: InternalAppDeps,
): Promise<FastifyInstance> {
  const { config, logger, metrics, internalToken, core } = deps;
  const checks = dependencyChecks(core.database, SERVICES[service].store ? core.store : undefined, config);
  if (SERVICES[service].store) registerDiskMetrics(metrics, watchedDirs(config));
  const app = await createServiceApp({ service, config, logger, metrics, readiness: checks, internalToken });
  switch (service) {
    case 'auth':
      await app.register(authServiceRoutes, { auth: inProcessAuth(core.auth, core.database.db) });
      break;
    case 'storage':
      await registerUploads(app, config);
      await app.register(storageServiceRoutes, {
        images: instrumentImages(core.images, metrics),
        store: core.store,
        maxUploadBytes: config.maxUploadBytes,
      });
      break;
    case 'storage-monitor':
      await app.register(storageMonitorRoutes, { usage: core.usage });
      break;
    case 'usage-monitor':
      await app.register(usageMonitorRoutes, { usage: core.usage });
      break;
  }
  return app;
}

/** Streaming multipart with the upload limits, for the gateway and for the storage service behind it. */
async function registerUploads(app: FastifyInstance, config: Readonly<Config>): Promise<void> {
  await app.register(multipart, {
    limits: {
      fileSize: config.maxUploadBytes,
      files: config.maxFilesPerUpload,
      fields: 10,
      parts: config.maxFilesPerUpload + 10,
      headerPairs: 50,
      fieldNameSize: 100,
    },
    throwFileSizeLimit: true,
  });
}

/** Readiness of a service: its database, and where it stores images, the store and the disks it writes to. */
function dependencyChecks(
  database: Database,
  store: ObjectStore | undefined,
  config: Readonly<Config>,
): Record<string, ReadinessCheck> {
  const checks: Record<string, ReadinessCheck> = { database: () => pingDatabase(database.db) };
  if (store) {
    checks.objectStore = () => store.ping();
    checks.diskSpace = () => assertFreeSpace(watchedDirs(config), config.minFreeBytes);
  }
  return checks;
}

/** The local directories uploads write to: the data directory, staging, and the file store's root. */
function watchedDirs(config: Readonly<Config>): WatchedDirs {
  const dirs: Record<string, string> = { data: config.dataDir, staging: path.join(config.dataDir, 'tmp') };
  if (config.storageUrl.startsWith('file://')) dirs.objects = fileUrlPath(config.storageUrl);
  return dirs;
}

function processLogger(config: Readonly<Config>, service: string): Logger {
  return createLogger({ service, level: config.logLevel, file: config.logFile, maxFileBytes: config.logMaxBytes });
}

/** The token-signing secret: configured (pod mode requires it), or generated once in the data dir. */
const authSecret = (config: Readonly<Config>): Promise<string> =>
  config.authSecretKey ? Promise.resolve(config.authSecretKey) : loadOrCreateSecret(config.dataDir, 'secret.key');

/** The internal service token: configured (pod mode requires it), or generated once in the data dir. */
const internalToken = (config: Readonly<Config>): Promise<string> =>
  config.internalToken ? Promise.resolve(config.internalToken) : loadOrCreateSecret(config.dataDir, 'internal.token');

function scheduleSweeps(config: Readonly<Config>, database: Database, store: ObjectStore, logger: Logger) {
  if (config.sweepIntervalSeconds === 0) return undefined;
  const windowMs = sweepSafetyWindowMs(config.requestTimeoutMs);
  const timer = setInterval(() => {
    removeStaleStagingFiles(path.join(config.dataDir, 'tmp'), windowMs).catch((error: unknown) =>
      logger.warn({ err: error }, 'staging cleanup failed'),
    );
    sweepOrphans(database.db, store, windowMs)
      .then((report) => {
        if (report.orphans.length > 0 || report.incomplete > 0) {
          logger.info({ orphans: report.orphans.length, incomplete: report.incomplete }, 'storage swept');
        }
      })
      .catch((error: unknown) => logger.warn({ err: error }, 'storage sweep failed'));
    rollUpEvents(database.db, database.dialect, { retentionDays: config.eventRetentionDays })
      .then((rolled) => {
        if (rolled > 0) logger.info({ events: rolled }, 'old storage events rolled up into daily totals');
      })
      .catch((error: unknown) => logger.warn({ err: error }, 'rolling up storage events failed'));
  }, config.sweepIntervalSeconds * 1000);
  timer.unref();
  return timer;
}
