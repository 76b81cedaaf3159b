import type { Kysely } from 'kysely';

import type { DialectName } from '../../db/database.js';
import type { DB } from '../../db/tables.js';
import type { ObjectStore } from '../../storage/object-store.js';
import type { EventBatcher } from '../usage/event-batcher.js';
import type { QuotaDefaults } from '../usage/quota.js';
import type { StorageEvent } from '../usage/storage-event.repository.js';
import type { MediaUrlSigner } from './media-url.js';
import type { StagingBudget } from './upload-staging.js';

/** What the image services run on: one set for uploads, the gallery and media alike. */
export interface ImageServiceDeps {
  db: Kysely<DB>;
  dialect: DialectName;
  store: ObjectStore;
  signer: MediaUrlSigner;
  quotas: QuotaDefaults;
  maxPixels: number;
  tmpDir: string;
  /** Disk all staging files of this process may take together (PIXA_STAGING_MB). */
  stagingBudget?: StagingBudget;
  /** Uploads one account may have running in this process (PIXA_UPLOADS_PER_ACCOUNT); 0 = no limit. */
  uploadsPerAccount?: number;
  /** PIXA_REQUEST_TIMEOUT_SECONDS in ms: an upload must start its commit within it plus a grace. */
  requestTimeoutMs?: number;
  /** Where thumbnail views are logged; without it each is written at once. */
  thumbnailEvents?: EventBatcher;
  /** Told when the transfer of a refused upload could not be charged (the refusal is answered anyway). */
  onUsageError?: (error: unknown, event: StorageEvent) => void;
  /** Days a photo stays in the trash before the sweeper deletes it for good (PIXA_TRASH_DAYS); 0 = no trash. */
  trashDays?: number;
  now?: () => number;
}
