import type { Readable } from 'node:stream';

import { internalRoutes as routes, MEDIA_HEADERS } from '../api/internal.js';
import { SERVICES } from '../config/service-table.js';
import { unavailable } from '../lib/app-error.js';
import type { MediaResponse, NotModified, VariantInfo } from '../modules/images/image.service.js';
import { mediaResponse } from '../modules/images/media.service.js';
import type { Variant } from '../modules/images/media-url.js';
import type { ByteRange } from '../storage/object-store.js';
import type { StorageClient } from './clients.js';
import type { ServiceClient } from './http-client.js';
import { callInternal, internalPath } from './internal-call.js';
import { multipartBody } from './multipart-body.js';

/** Bodies up to this size are read whole (as the media cache keeps them) rather than streamed on. */
const SMALL_BODY_BYTES = 256 * 1024;

/**
 * The storage service over HTTP (pod mode). Uploads are re-encoded as a streamed multipart body and
 * media come back as the response stream, so image bytes pass through the gateway without being
 * held in memory, and never as base64.
 */
export function httpStorageClient(client: ServiceClient, options: { uploadTimeoutMs: number }): StorageClient {
  const describe = (userId: string, imageId: string, variant: Variant): Promise<VariantInfo> =>
    callInternal(client, routes.describeVariant, { params: { userId, imageId, variant }, retry: true });

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

    list: (userId, limit, cursor, favorite) =>
      callInternal(client, routes.listImages, { params: { userId }, query: { limit, cursor, favorite }, retry: true }),

    get: (userId, imageId) => callInternal(client, routes.getImage, { params: { userId, imageId }, retry: true }),

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

    listAlbums: (userId) => callInternal(client, routes.listAlbums, { params: { userId }, retry: true }),

    getAlbum: (userId, albumId) => callInternal(client, routes.getAlbum, { params: { userId, albumId }, retry: true }),

    updateAlbum: (userId, albumId, changes) =>
      callInternal(client, routes.updateAlbum, { params: { userId, albumId }, json: changes }),

    deleteAlbum: async (userId, albumId) => {
      await callInternal(client, routes.deleteAlbum, { params: { userId, albumId } });
    },

    listAlbumImages: (userId, albumId, limit, cursor) =>
      callInternal(client, routes.listAlbumImages, {
        params: { userId, albumId },
        query: { limit, cursor },
        retry: true,
      }),

    addToAlbum: (userId, albumId, ids) =>
      callInternal(client, routes.addToAlbum, { params: { userId, albumId }, json: { ids: [...ids] } }),

    removeFromAlbum: (userId, albumId, ids) =>
      callInternal(client, routes.removeFromAlbum, { params: { userId, albumId }, json: { ids: [...ids] } }),

    describe,

    async open(userId, imageId, variant, options = {}): Promise<MediaResponse | NotModified> {
      // Only a range needs the size before the object is asked for: one more call, for ranges alone.
      const range: ByteRange | undefined = options.range
        ? options.range((await describe(userId, imageId, variant)).size)
        : undefined;
      const headers: Record<string, string> = {};
      if (range) headers.range = `bytes=${range.start}-${range.end}`;
      if (options.ifNoneMatch !== undefined) headers['if-none-match'] = options.ifNoneMatch;
      // Not retried: the storage service charges the transfer quota when it opens the object.
      const path = internalPath(routes.openVariant, { userId, imageId, variant });
      // A thumbnail (about 400 px of WebP) is read whole with no stream between the two sockets.
      if (variant === 'thumbnail' && !range) {
        const answer = await client.buffered({ method: routes.openVariant.method, path, headers });
        return mediaOf(answer.statusCode, answer.headers, answer.body);
      }
      const response = await client.call({ method: routes.openVariant.method, path, headers });
      if (response.statusCode === 304) {
        await response.body.dump();
        return mediaOf(304, response.headers, undefined, range);
      }
      const length = Number(headerOf(response.headers, 'content-length'));
      // A small whole variant (most previews) is read at once and sent with one write: piping a few
      // kilobytes through two streams cost more CPU than the bytes themselves.
      if (!range && response.statusCode === 200 && length <= SMALL_BODY_BYTES) {
        let bytes: Buffer;
        try {
          bytes = Buffer.from(await response.body.arrayBuffer());
        } catch {
          // The storage service went away mid-body: nothing was sent yet, so the answer is a 503.
          throw unavailable(SERVICES.storage.label);
        }
        return mediaOf(200, response.headers, bytes);
      }
      // undici fails a body destroyed before its end with an AbortError; whoever reads the stream
      // gets errors through its own pipe, and one dropped unread (a 416) must not crash the process.
      response.body.on('error', () => {});
      return mediaOf(response.statusCode, response.headers, response.body, range);
    },

    async checkReady() {
      await callInternal(client, routes.storageReady, { retry: true });
    },
  };
}

type Headers = Record<string, string | string[] | undefined>;

function headerOf(headers: Headers, name: string): string {
  const value = headers[name];
  return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
}

/** The media answer the storage service's headers describe, over its bytes read whole or still streaming. */
function mediaOf(
  status: number,
  headers: Headers,
  bytes: Buffer | Readable | undefined,
  range?: ByteRange,
): MediaResponse | NotModified {
  const header = (name: string): string => headerOf(headers, name);
  if (status === 304) return { notModified: true, etag: header('etag') };
  const body = Buffer.isBuffer(bytes) ? bytes : undefined;
  return mediaResponse(
    {
      contentType: header('content-type'),
      length: Number(header('content-length')),
      totalSize: Number(header(MEDIA_HEADERS.totalSize)),
      range,
      etag: header('etag'),
      filename: decodeURIComponent(header(MEDIA_HEADERS.filename)),
    },
    body,
    body ? undefined : (bytes as Readable),
  );
}
