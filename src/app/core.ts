import path from 'node:path';

import type { Logger } from 'pino';

import type { Config } from '../config/config.js';
import { openDatabase, type Database } from '../db/database.js';
import { migrateToLatest } from '../db/migrate.js';
import { configureDecoding } from '../image/image-processor.js';
import type { Metrics } from '../http/metrics.js';
import { createLogger } from '../lib/logger.js';
import { loadOrCreateSecret } from '../lib/secrets.js';
import { createAlbumService, type AlbumService } from '../modules/albums/album.service.js';
import { createAuthService, type AuthService } from '../modules/auth/auth.service.js';
import { createDeviceKeys } from '../modules/auth/device-keys.js';
import { createLoginThrottle } from '../modules/auth/login-throttle.js';
import { createTokenSigner } from '../modules/auth/token.js';
import { createImageService, type ImageService } from '../modules/images/image.service.js';
import { createMediaUrlSigner, type MediaUrlSigner } from '../modules/images/media-url.js';
import { sweepSafetyWindowMs } from '../modules/images/sweeper.js';
import { createEventBatcher } from '../modules/usage/event-batcher.js';
import { createStagingBudget, removeStaleStagingFiles } from '../modules/images/upload-staging.js';
import { createShareSigner } from '../modules/shares/share-keys.js';
import { createSharingService, type SharingService } from '../modules/shares/sharing.js';
import { createUsageService, type UsageService } from '../modules/usage/usage.service.js';
import { withSmallObjectCache } from '../storage/cached-store.js';
import { createObjectStore } from '../storage/create-store.js';
import type { ObjectStore } from '../storage/object-store.js';

/** The services of one process and what they run on, without any HTTP. */
export interface PixaCore {
  config: Readonly<Config>;
  database: Database;
  store: ObjectStore;
  auth: AuthService;
  images: ImageService;
  albums: AlbumService;
  usage: UsageService;
  sharing: SharingService;
  mediaUrls: MediaUrlSigner;
  logger: Logger;
  close(): Promise<void>;
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
    const images = createImageService({
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
      trashDays: config.trashDays,
      onUsageError: (error, event) =>
        logger.warn({ err: error, userId: event.user_id, bytes: event.bytes }, 'charging a refused upload failed'),
      now: options.now,
    });
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
      images,
      sharing: createSharingService({
        db: database.db,
        dialect: database.dialect,
        store,
        media: images,
        signer: createShareSigner(secret, config.mediaUrlTtlSeconds, options.now),
        throttle: createLoginThrottle(database.db),
        quotas,
        now: options.now,
      }),
      albums: createAlbumService({ db: database.db, dialect: database.dialect, signer: mediaUrls, now: options.now }),
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

export function processLogger(config: Readonly<Config>, service: string): Logger {
  return createLogger({ service, level: config.logLevel, file: config.logFile, maxFileBytes: config.logMaxBytes });
}

/** The token-signing secret: configured (pod mode requires it), or generated once in the data dir. */
export const authSecret = (config: Readonly<Config>): Promise<string> =>
  config.authSecretKey ? Promise.resolve(config.authSecretKey) : loadOrCreateSecret(config.dataDir, 'secret.key');

/** The internal service token: configured (pod mode requires it), or generated once in the data dir. */
export const internalToken = (config: Readonly<Config>): Promise<string> =>
  config.internalToken ? Promise.resolve(config.internalToken) : loadOrCreateSecret(config.dataDir, 'internal.token');
