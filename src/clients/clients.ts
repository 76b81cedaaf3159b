import type { AlbumService } from '../modules/albums/album.service.js';
import type { AuthService } from '../modules/auth/auth.service.js';
import type { ImageService } from '../modules/images/image.service.js';
import type { ResumableUploadService } from '../modules/uploads/resumable-upload.service.js';
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

/** Resumable uploads, which the storage service keeps; sweeping them is the storage service's own. */
export type UploadsClient = Omit<ResumableUploadService, 'sweepExpired'>;
/** What the gateway asks of the storage service about share links and ZIP downloads. */
export type SharesClient = SharingService;

/** The storage monitor (storage usage) and the usage monitor (transfer usage) behind one interface. */
export type UsageClient = UsageService;

/** Everything the gateway calls. */
export interface ServiceClients {
  auth: AuthClient;
  storage: StorageClient;
  usage: UsageClient;
  uploads: UploadsClient;
  shares: SharesClient;
}

/** The gateway's clients, wired for the mode this process runs in. */
export interface GatewayClients {
  /**
   * The clients as one request calls them. Over HTTP each call carries the request's id
   * (`x-request-id`), so the services' log lines join the gateway's; in process every request
   * gets the same clients.
   */
  forRequest(requestId?: string): ServiceClients;
  /** Readiness checks of the services these clients call, for the gateway's /readyz. */
  readiness: Record<string, () => Promise<unknown>>;
  close(): Promise<void>;
}

/**
 * What the gateway answers itself in pod mode, from the shared database and store
 * (app/gateway-reads.ts): a token's session, pages, photos and albums, and the photos' bytes.
 */
export type StorageReads = Pick<
  StorageClient,
  'list' | 'get' | 'describe' | 'open' | 'openCached' | 'listAlbums' | 'getAlbum' | 'listAlbumImages'
>;

/** The storage service over HTTP: everything but the reads, which the gateway makes itself. */
export type RemoteStorageClient = Omit<StorageClient, keyof StorageReads>;
/**
 * The auth service over HTTP: sign-up, sign-in, passwords and deleting accounts; the gateway checks
 * tokens and reads accounts itself.
 */
export type RemoteAuthClient = Omit<AuthClient, 'authenticate' | 'authenticateCached' | 'getUser'>;

/** The clients over HTTP (pod mode), before the gateway's own reads complete them. */
export interface RemoteServiceClients extends Omit<ServiceClients, 'auth' | 'storage'> {
  auth: RemoteAuthClient;
  storage: RemoteStorageClient;
}

/** The gateway's clients over HTTP (pod mode). */
export interface RemoteGatewayClients extends Omit<GatewayClients, 'forRequest'> {
  forRequest(requestId?: string): RemoteServiceClients;
}
