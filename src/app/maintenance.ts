import path from 'node:path';

import type { Logger } from 'pino';

import type { Config } from '../config/config.js';
import type { Database } from '../db/database.js';
import { pingDatabase } from '../db/ping.js';
import type { ReadinessCheck } from '../http/probes.js';
import { assertFreeSpace, type WatchedDirs } from '../modules/images/disk-space.js';
import { sweepOrphans, sweepSafetyWindowMs } from '../modules/images/sweeper.js';
import type { TrashPurge } from '../modules/images/trash.service.js';
import { pruneDoneJobs } from '../modules/jobs/job.repository.js';
import type { ResumableUploadService } from '../modules/uploads/resumable-upload.service.js';
import { rollUpEvents } from '../modules/usage/event-rollup.js';
import { removeStaleStagingFiles } from '../modules/images/upload-staging.js';
import { fileUrlPath } from '../storage/create-store.js';
import type { ObjectStore } from '../storage/object-store.js';

/** Readiness of a service: its database, and where it stores images, the store and the disks it writes to. */
export function dependencyChecks(
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
export function watchedDirs(config: Readonly<Config>): WatchedDirs {
  const dirs: Record<string, string> = { data: config.dataDir, staging: path.join(config.dataDir, 'tmp') };
  if (config.storageUrl.startsWith('file://')) dirs.objects = fileUrlPath(config.storageUrl);
  return dirs;
}

/** Finished background jobs are kept this long (to read what ran), then removed; dead ones stay. */
const DONE_JOBS_KEPT_MS = 7 * 86_400_000;

/**
 * The periodic sweeps of a process that holds images: staging leftovers, orphaned objects, old events
 * rolled up, photos past their time in the trash deleted for good, resumable uploads past their
 * expiry removed with their holds, and finished background jobs older than a week. Each is safe on every replica at once: a photo's storage, or an
 * upload's hold, is freed by the one replica whose delete took its row.
 */
export function scheduleSweeps(
  config: Readonly<Config>,
  database: Database,
  store: ObjectStore,
  logger: Logger,
  trash: TrashPurge,
  uploads: ResumableUploadService,
) {
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
    uploads
      .sweepExpired(windowMs)
      .then((removed) => {
        if (removed > 0) logger.info({ removed }, 'expired resumable uploads removed');
      })
      .catch((error: unknown) => logger.warn({ err: error }, 'sweeping expired uploads failed'));
    rollUpEvents(database.db, database.dialect, { retentionDays: config.eventRetentionDays })
      .then((rolled) => {
        if (rolled > 0) logger.info({ events: rolled }, 'old storage events rolled up into daily totals');
      })
      .catch((error: unknown) => logger.warn({ err: error }, 'rolling up storage events failed'));
    trash
      .purgeExpiredTrash()
      .then((purged) => {
        if (purged > 0) logger.info({ photos: purged }, 'photos past their time in the trash deleted');
      })
      .catch((error: unknown) => logger.warn({ err: error }, 'purging the trash failed'));
    pruneDoneJobs(database.db, Date.now() - DONE_JOBS_KEPT_MS).catch((error: unknown) =>
      logger.warn({ err: error }, 'pruning finished jobs failed'),
    );
  }, config.sweepIntervalSeconds * 1000);
  timer.unref();
  return timer;
}
