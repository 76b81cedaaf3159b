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
import { createPlaybackJob } from '../modules/images/playback-job.js';
import { PLAYBACK_JOB } from '../modules/images/upload.service.js';
import { startJobWorker, type JobHandler, type JobWorker } from '../modules/jobs/job-worker.js';
import { configureVideoTools } from '../video/ffmpeg-runner.js';
import { createMediaUrlSigner, type MediaUrlSigner } from '../modules/images/media-url.js';
import { sweepSafetyWindowMs, UPLOAD_PROCESSING_GRACE_MS } from '../modules/images/sweeper.js';
import { createEventBatcher, type EventBatcher } from '../modules/usage/event-batcher.js';
import { createStagingBudget, removeStaleStagingFiles } from '../modules/images/upload-staging.js';
import {
  createResumableUploadService,
  type ResumableUploadService,
} from '../modules/uploads/resumable-upload.service.js';
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
  /** Resumable (tus) uploads: their state, reservations and completion through the image pipeline. */
  uploads: ResumableUploadService;
  sharing: SharingService;
  mediaUrls: MediaUrlSigner;
  logger: Logger;
  /** What each kind of background job does. */
  jobHandlers: Record<string, JobHandler>;
  /**
   * Starts this process's job worker (PIXA_JOB_CONCURRENCY jobs at once; none at 0): in embedded
   * mode, and in pod mode where the bytes are, in the storage service. Stopped by close().
   */
  startJobWorker(): void;
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
  configureVideoTools(videoToolsOf(config));
  const backing = await openBacking(config, logger, { migrate: config.autoMigrate });
  const { database, store, thumbnailEvents } = backing;
  try {
    const tmpDir = path.join(config.dataDir, 'tmp');
    const staleUploads = await removeStaleStagingFiles(tmpDir, sweepSafetyWindowMs(config.requestTimeoutMs));
    if (staleUploads > 0) logger.info({ removed: staleUploads }, 'removed staging files of interrupted uploads');
    const secret = await authSecret(config);
    const quotas = { storageQuotaBytes: config.storageQuotaBytes, dailyTransferBytes: config.dailyTransferBytes };
    const mediaUrls = createMediaUrlSigner(secret, config.mediaUrlTtlSeconds, options.now);
    // Apart from upload staging: a conversion's files are no upload's, and may outlive any request.
    const jobsDir = path.join(config.dataDir, 'jobs');
    await removeStaleStagingFiles(jobsDir, sweepSafetyWindowMs(config.requestTimeoutMs));
    const jobHandlers = {
      [PLAYBACK_JOB]: createPlaybackJob({ db: database.db, store, tmpDir: jobsDir, now: options.now }),
    };
    let worker: JobWorker | undefined;
    // One budget for the staging disk: multipart uploads and resumable uploads' PATCH bodies.
    const stagingBudget = createStagingBudget(config.stagingBytes);
    const images = createImageService({
      db: database.db,
      dialect: database.dialect,
      store,
      signer: mediaUrls,
      quotas,
      maxPixels: config.maxPixels,
      maxPhotoBytes: config.maxUploadBytes,
      onJobQueued: () => worker?.wake(),
      tmpDir,
      stagingBudget,
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
      images,
      uploads: createResumableUploadService({
        db: database.db,
        dialect: database.dialect,
        store,
        signer: mediaUrls,
        quotas,
        images,
        tmpDir,
        stagingBudget,
        maxUploadBytes: config.maxUploadBytes,
        expiryMs: config.uploadExpiryMs,
        processingTimeoutMs: config.requestTimeoutMs + UPLOAD_PROCESSING_GRACE_MS,
        now: options.now,
      }),
      auth: createAuthService({
        db: database.db,
        signer: createTokenSigner(secret, config.authAlgorithm),
        throttle: createLoginThrottle(database.db),
        devices: createDeviceKeys(secret),
        tokenTtlSeconds: config.tokenTtlSeconds,
        signupPerHour: config.signupPerHour,
        now: options.now,
      }),
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
      jobHandlers,
      startJobWorker() {
        if (worker || config.jobConcurrency === 0) return;
        worker = startJobWorker({
          db: database.db,
          handlers: jobHandlers,
          concurrency: config.jobConcurrency,
          now: options.now,
          onError: (error, job) => logger.warn({ err: error, job: job?.id, kind: job?.kind }, 'background job failed'),
        });
      },
      async close() {
        await worker?.stop();
        await backing.close();
      },
    };
  } catch (error) {
    await backing.close();
    throw error;
  }
}

/** What a process that serves images holds open: the database pool, the object store, and the views logged to it. */
export interface Backing {
  database: Database;
  store: ObjectStore;
  /** Where thumbnail views are logged: in batches, retried when a write fails. */
  thumbnailEvents: EventBatcher;
  /** Writes the views still queued, then closes the store and the database. */
  close(): Promise<void>;
}

/**
 * Opens the database pool (migrating it when `migrate`), the object store (behind the small-object
 * cache unless PIXA_CACHE_MB is 0) and the batch of thumbnail views: for the core of every process,
 * and for a pod's gateway, which reads from them itself (gateway-reads.ts).
 */
export async function openBacking(
  config: Readonly<Config>,
  logger: Logger,
  options: { migrate: boolean },
): Promise<Backing> {
  const database = await openDatabase(config.databaseUrl, {
    poolSize: config.dbPoolSize,
    onIdleError: (error) => logger.warn({ err: error }, 'database connection lost; it will be replaced'),
  });
  let store: ObjectStore;
  try {
    if (options.migrate) {
      const applied = await migrateToLatest(database.db);
      if (applied.length > 0) logger.info({ applied }, 'database migrated');
    }
    const backing = await createObjectStore(config.storageUrl, { azureConnectionString: config.azureConnectionString });
    store =
      config.cacheBytes > 0
        ? withSmallObjectCache(backing, { maxBytes: config.cacheBytes, maxObjectBytes: 256 * 1024 })
        : backing;
  } catch (error) {
    await database.close();
    throw error;
  }
  const thumbnailEvents = createEventBatcher(database.db, {
    onError: (error) => logger.warn({ err: error }, 'writing thumbnail events failed; will retry'),
  });
  return {
    database,
    store,
    thumbnailEvents,
    async close() {
      await thumbnailEvents.close().catch(() => undefined);
      await store.close();
      await database.close();
    },
  };
}

/** The ffmpeg and ffprobe settings: the storage service runs them, the gateway says whether they exist. */
export const videoToolsOf = (config: Readonly<Config>) => ({
  ffmpegPath: config.ffmpegPath,
  ffprobePath: config.ffprobePath,
  timeoutMs: config.ffmpegTimeoutMs,
  memoryBytes: config.ffmpegMemoryBytes,
});

export function processLogger(config: Readonly<Config>, service: string): Logger {
  return createLogger({ service, level: config.logLevel, file: config.logFile, maxFileBytes: config.logMaxBytes });
}

/** The token-signing secret: configured (pod mode requires it), or generated once in the data dir. */
export const authSecret = (config: Readonly<Config>): Promise<string> =>
  config.authSecretKey ? Promise.resolve(config.authSecretKey) : loadOrCreateSecret(config.dataDir, 'secret.key');

/** The internal service token: configured (pod mode requires it), or generated once in the data dir. */
export const internalToken = (config: Readonly<Config>): Promise<string> =>
  config.internalToken ? Promise.resolve(config.internalToken) : loadOrCreateSecret(config.dataDir, 'internal.token');
