import { internalRoutes as routes } from '../api/internal.js';
import type { RemoteStorageClient } from './clients.js';
import type { ServiceCaller } from './http-client.js';
import { callInternal } from './internal-call.js';
import { multipartBody } from './multipart-body.js';

/**
 * The storage service over HTTP (pod mode): uploads and the library's changes. Uploads are
 * re-encoded as a streamed multipart body, so image bytes pass through the gateway without being
 * held in memory, and never as base64. Pages and media the gateway reads itself (StorageReads).
 */
export function httpStorageClient(client: ServiceCaller, options: { uploadTimeoutMs: number }): RemoteStorageClient {
  return {
    async assertCanUpload(userId) {
      await callInternal(client, routes.uploadAllowance, { params: { userId }, retry: true });
    },

    async upload(userId, parts) {
      const body = multipartBody(parts);
      // Stops sending the rest of the upload as soon as the storage service has answered (a refusal
      // can come after the first file) or the upload's own stream failed.
      const abort = new AbortController();
      try {
        const answer = await callInternal(client, routes.upload, {
          params: { userId },
          body: body.stream,
          headers: { 'content-type': body.contentType },
          headersTimeoutMs: options.uploadTimeoutMs,
          signal: abort.signal,
          bodyFailure: body.failure,
        });
        return answer.images;
      } catch (error) {
        // The part stream's own error (e.g. file too large) says more than what it did to the call.
        throw body.failure() ?? error;
      } finally {
        abort.abort();
        body.stream.destroy();
      }
    },

    remove: async (userId, imageId) => {
      await callInternal(client, routes.deleteImage, { params: { userId, imageId } });
    },

    trash: async (userId, imageId) => {
      await callInternal(client, routes.trashImage, { params: { userId, imageId } });
    },

    setFavorite: async (userId, imageId, favorite) => {
      await callInternal(client, routes.setFavorite, { params: { userId, imageId }, json: { favorite } });
    },

    listTrash: (userId, limit, cursor) =>
      callInternal(client, routes.listTrash, { params: { userId }, query: { limit, cursor }, retry: true }),

    restore: (userId, ids) =>
      callInternal(client, routes.restoreFromTrash, { params: { userId }, json: { ids: [...ids] } }),

    emptyTrash: (userId) => callInternal(client, routes.emptyTrash, { params: { userId } }),

    deleteForGood: async (userId, imageId) => {
      await callInternal(client, routes.deleteFromTrash, { params: { userId, imageId } });
    },

    createAlbum: (userId, album) => callInternal(client, routes.createAlbum, { params: { userId }, json: album }),

    updateAlbum: (userId, albumId, changes) =>
      callInternal(client, routes.updateAlbum, { params: { userId, albumId }, json: changes }),

    deleteAlbum: async (userId, albumId) => {
      await callInternal(client, routes.deleteAlbum, { params: { userId, albumId } });
    },

    addToAlbum: (userId, albumId, ids) =>
      callInternal(client, routes.addToAlbum, { params: { userId, albumId }, json: { ids: [...ids] } }),

    removeFromAlbum: (userId, albumId, ids) =>
      callInternal(client, routes.removeFromAlbum, { params: { userId, albumId }, json: { ids: [...ids] } }),

    async checkReady() {
      await callInternal(client, routes.storageReady, { retry: true });
    },
  };
}
