import type { Logger } from 'pino';

import type { GatewayClients, RemoteGatewayClients, RemoteServiceClients, ServiceClients } from '../clients/clients.js';
import type { Config } from '../config/config.js';
import { pingDatabase } from '../db/ping.js';
import type { Metrics } from '../http/metrics.js';
import { createAlbumService } from '../modules/albums/album.service.js';
import { readUser } from '../modules/auth/auth.service.js';
import { createSessionCheck } from '../modules/auth/session-check.js';
import { createTokenSigner } from '../modules/auth/token.js';
import { createImageReads } from '../modules/images/image.service.js';
import type { MediaUrlSigner } from '../modules/images/media-url.js';
import { countedMedia } from '../services/storage/instrumented-images.js';
import { authSecret, openBacking } from './core.js';

/**
 * Pod mode: what the gateway answers itself from the shared database and object store instead of
 * asking another service over HTTP, because it is most of what a gallery asks for and needs no
 * service's private state: a token's session and its account, a page of the gallery or of an album,
 * one photo or album, and a photo's bytes (thumbnails, previews, originals, with their transfer
 * charged by the same conditional updates as anywhere). Everything that changes state still goes to
 * the service that owns it.
 *
 * What it remembers (active sessions, image rows and small bodies) it trusts for 2 s, like every
 * replica: an ending or a delete made through this gateway is forgotten here at once, one made
 * anywhere else applies here within that time (media-cache.ts, session-check.ts).
 */
export interface GatewayReads {
  /** Completes the clients calling the other services with the reads, and forgets what they change. */
  over(clients: RemoteGatewayClients): GatewayClients;
  close(): Promise<void>;
}

export async function openGatewayReads(
  config: Readonly<Config>,
  deps: { logger: Logger; metrics: Metrics; mediaUrls: MediaUrlSigner; now?: () => number },
): Promise<GatewayReads> {
  const backing = await openBacking(config, deps.logger, { migrate: false });
  const { database, store, thumbnailEvents } = backing;
  try {
    const quotas = { storageQuotaBytes: config.storageQuotaBytes, dailyTransferBytes: config.dailyTransferBytes };
    const { db, dialect } = database;
    const images = createImageReads({
      db,
      dialect,
      store,
      signer: deps.mediaUrls,
      quotas,
      thumbnailEvents,
      now: deps.now,
    });
    const sessions = createSessionCheck({
      db,
      signer: createTokenSigner(await authSecret(config), config.authAlgorithm),
      now: deps.now,
    });
    const media = countedMedia(images, deps.metrics);
    const albums = createAlbumService({ db, dialect, signer: deps.mediaUrls, now: deps.now });

    /** Runs `change` on the service that owns it, then forgets here what it may have changed. */
    const thenForget =
      <A extends unknown[], R>(change: (...args: A) => Promise<R>, forget: (...args: A) => void) =>
      async (...args: A): Promise<R> => {
        try {
          return await change(...args);
        } finally {
          forget(...args);
        }
      };
    const complete = ({ auth, storage, ...rest }: RemoteServiceClients): ServiceClients => ({
      ...rest,
      auth: {
        ...auth,
        authenticate: sessions.authenticate,
        authenticateCached: sessions.authenticateCached,
        getUser: (userId) => readUser(db, userId),
        logout: thenForget(auth.logout, (sessionId) => sessions.forgetSession(sessionId)),
        changePassword: thenForget(auth.changePassword, (principal) => sessions.forgetUser(principal.userId)),
        deleteUser: thenForget(auth.deleteUser, (userId) => {
          sessions.forgetUser(userId);
          images.forgetOwner(userId);
        }),
      },
      storage: {
        ...storage,
        list: images.list,
        get: images.get,
        describe: images.describe,
        open: media.open,
        openCached: media.openCached,
        listAlbums: albums.listAlbums,
        getAlbum: albums.getAlbum,
        listAlbumImages: albums.listAlbumImages,
        remove: thenForget(storage.remove, (_userId, imageId) => images.forgetImage(imageId)),
        deleteForGood: thenForget(storage.deleteForGood, (_userId, imageId) => images.forgetImage(imageId)),
        emptyTrash: thenForget(storage.emptyTrash, (userId) => images.forgetOwner(userId)),
      },
    });

    return {
      over: (clients) => ({
        forRequest: (requestId) => complete(clients.forRequest(requestId)),
        readiness: {
          ...clients.readiness,
          database: () => pingDatabase(db),
          objectStore: () => store.ping(),
        },
        close: () => clients.close(),
      }),
      close: () => backing.close(),
    };
  } catch (error) {
    await backing.close();
    throw error;
  }
}
