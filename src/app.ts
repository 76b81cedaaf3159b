import path from 'node:path';
import { fileURLToPath } from 'node:url';

import multipart from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { Logger } from 'pino';

import type { Config } from './config/config.js';
import { openDatabase, type Database } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { createHttpServer } from './http/server.js';
import { registerWebUi } from './http/web-ui.js';
import { createLogger } from './lib/logger.js';
import { loadOrCreateSecret } from './lib/secrets.js';
import { createAuthService, type AuthService } from './modules/auth/auth.service.js';
import { createLoginThrottle } from './modules/auth/login-throttle.js';
import { createTokenSigner } from './modules/auth/token.js';
import { createImageService, type ImageService } from './modules/images/image.service.js';
import { createMediaUrlSigner, type MediaUrlSigner } from './modules/images/media-url.js';
import { sweepOrphans } from './modules/images/sweeper.js';
import { createUsageService, type UsageService } from './modules/usage/usage.service.js';
import { authRoutes } from './services/gateway/auth.routes.js';
import type { GatewayDeps } from './services/gateway/gateway-deps.js';
import { imageRoutes } from './services/gateway/image.routes.js';
import { legacyRoutes } from './services/gateway/legacy.routes.js';
import { usageRoutes } from './services/gateway/usage.routes.js';
import { createObjectStore } from './storage/create-store.js';
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

export interface Pixa extends PixaCore {
  app: FastifyInstance;
}

export interface PixaOptions {
  logger?: Logger;
  now?: () => number;
}

/**
 * Opens the database (migrating it unless told not to) and the object store, and wires the services
 * with plain factories. The admin commands use this alone; `createPixa` adds the HTTP gateway.
 */
export async function createCore(config: Readonly<Config>, options: PixaOptions = {}): Promise<PixaCore> {
  const logger = options.logger ?? createLogger({ service: 'pixa', level: config.logLevel });
  const database = await openDatabase(config.databaseUrl, { poolSize: config.dbPoolSize });
  let store: ObjectStore | undefined;
  try {
    if (config.autoMigrate) {
      const applied = await migrateToLatest(database.db);
      if (applied.length > 0) logger.info({ applied }, 'database migrated');
    }
    store = await createObjectStore(config.storageUrl, { azureConnectionString: config.azureConnectionString });
    const openedStore = store;
    const secret = config.authSecretKey ?? (await loadOrCreateSecret(config.dataDir, 'secret.key'));
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
        tokenTtlSeconds: config.tokenTtlSeconds,
        now: options.now,
      }),
      images: createImageService({
        db: database.db,
        dialect: database.dialect,
        store,
        signer: mediaUrls,
        quotas,
        maxPixels: config.maxPixels,
        tmpDir: path.join(config.dataDir, 'tmp'),
        now: options.now,
      }),
      usage: createUsageService({ db: database.db, quotas, now: options.now }),
      async close() {
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

/** One Pixa process in embedded mode: the core plus the public gateway on one Fastify instance. */
export async function createPixa(config: Readonly<Config>, options: PixaOptions = {}): Promise<Pixa> {
  const core = await createCore(config, options);
  try {
    const app = await createHttpServer({
      service: 'gateway',
      logger: core.logger,
      trustProxy: config.trustProxy,
      requestTimeoutMs: config.requestTimeoutMs,
      openapi: true,
    });
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
    const deps: GatewayDeps = { config, auth: core.auth, images: core.images, usage: core.usage, mediaUrls: core.mediaUrls };
    await app.register(authRoutes, deps);
    await app.register(imageRoutes, deps);
    await app.register(usageRoutes, deps);
    await app.register(legacyRoutes, deps);
    registerProbes(app, core.database, core.store);
    await registerWebUi(app, { distDir: path.join(ROOT, 'web', 'dist') });

    const sweeper = scheduleSweeps(config, core.database, core.store, core.logger);
    return {
      ...core,
      app,
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

function registerProbes(app: FastifyInstance, database: Database, store: ObjectStore): void {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const checks = await Promise.allSettled([sql`select 1`.execute(database.db), store.ping()]);
    const [db, objects] = checks.map((check) => (check.status === 'fulfilled' ? 'ok' : 'unavailable'));
    const ready = db === 'ok' && objects === 'ok';
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', database: db, objectStore: objects });
  });
}

/** Orphans are only removed once older than this: long enough for any upload still in flight. */
const SWEEP_SAFETY_WINDOW_MS = 60 * 60 * 1000;

function scheduleSweeps(config: Readonly<Config>, database: Database, store: ObjectStore, logger: Logger) {
  if (config.sweepIntervalSeconds === 0) return undefined;
  const timer = setInterval(() => {
    sweepOrphans(database.db, store, SWEEP_SAFETY_WINDOW_MS)
      .then((report) => {
        if (report.orphans.length > 0 || report.incomplete > 0) {
          logger.info({ orphans: report.orphans.length, incomplete: report.incomplete }, 'storage swept');
        }
      })
      .catch((error: unknown) => logger.warn({ err: error }, 'storage sweep failed'));
  }, config.sweepIntervalSeconds * 1000);
  timer.unref();
  return timer;
}
