import type { Kysely } from 'kysely';

import type { DialectName } from '../../db/database.js';
import type { DB } from '../../db/tables.js';
import type { ObjectStore } from '../../storage/object-store.js';
import type { LoginThrottle } from '../auth/login-throttle.js';
import type { MediaService } from '../images/media.service.js';
import type { QuotaDefaults } from '../usage/quota.js';
import type { ShareSigner } from './share-keys.js';

/** What share links run on: the database, the store, and the image service that serves and charges media. */
export interface ShareServiceDeps {
  db: Kysely<DB>;
  dialect: DialectName;
  store: ObjectStore;
  media: MediaService;
  signer: ShareSigner;
  /** The sign-in throttle: a link's password is guessed at like an account's. */
  throttle: LoginThrottle;
  quotas: QuotaDefaults;
  now?: () => number;
}
