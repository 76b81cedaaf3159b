import type { AlbumService } from '../modules/albums/album.service.js';
import type { AuthService } from '../modules/auth/auth.service.js';
import type { ImageService } from '../modules/images/image.service.js';
import type { SharingService } from '../modules/shares/sharing.js';
import type { UsageService } from '../modules/usage/usage.service.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { AuthClient, SharesClient, StorageClient, UsageClient } from './clients.js';

/** The auth service called in process (embedded mode, and inside the auth service itself). */
export const inProcessAuth = (auth: AuthService): AuthClient => auth;

/** The storage service called in process. */
export function inProcessStorage(images: ImageService, albums: AlbumService, store: ObjectStore): StorageClient {
  return { ...images, ...albums, checkReady: () => store.ping() };
}

export const inProcessUsage = (usage: UsageService): UsageClient => usage;

/** Share links and ZIP downloads called in process. */
export const inProcessShares = (sharing: SharingService): SharesClient => sharing;
