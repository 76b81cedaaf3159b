import type { AlbumService } from '../modules/albums/album.service.js';
import type { AuthService } from '../modules/auth/auth.service.js';
import type { ImageService } from '../modules/images/image.service.js';
import type { SharingService } from '../modules/shares/sharing.js';
import type { UsageService } from '../modules/usage/usage.service.js';

/**
 * What the gateway asks of the auth service. The same interface in process (embedded mode) and
 * over HTTP (pod mode).
 */
export type AuthClient = AuthService;

/**
 * What the gateway asks of the storage service: images and albums. Removing a whole account's images
 * is the CLI's, in process, and purging the trash the sweeper's, where the storage service runs.
 */
export interface StorageClient extends Omit<ImageService, 'removeAll' | 'purgeExpiredTrash'>, AlbumService {
  /** Throws (a 503) when the storage service could not store a new account's photos right now. */
  checkReady(): Promise<void>;
}

/** What the gateway asks of the storage service about share links and ZIP downloads. */
export type SharesClient = SharingService;

/** The storage monitor (storage usage) and the usage monitor (transfer usage) behind one interface. */
export type UsageClient = UsageService;

/** Everything the gateway calls, wired for the mode this process runs in. */
export interface GatewayClients {
  auth: AuthClient;
  storage: StorageClient;
  usage: UsageClient;
  shares: SharesClient;
  /** Readiness checks of the services these clients call, for the gateway's /readyz. */
  readiness: Record<string, () => Promise<unknown>>;
  close(): Promise<void>;
}
