import type { Readable } from 'node:stream';

import type { Dispatcher } from 'undici';

import { internalRoutes as routes, MEDIA_HEADERS } from '../api/internal.js';
import type { Variant } from '../api/images.js';
import { mediaResponse } from '../modules/images/media.service.js';
import type { ByteRange } from '../storage/object-store.js';
import type { Archive, SharedMedia } from '../modules/shares/sharing.js';
import type { SharesClient } from './clients.js';
import type { ServiceCaller } from './http-client.js';
import { callInternal, internalPath } from './internal-call.js';

/**
 * Share links over HTTP (pod mode): the storage service owns them. Shared media and ZIPs come back
 * as the response stream, passed on without being held.
 */
export function httpSharesClient(client: ServiceCaller): SharesClient {
  return {
    createShare: (userId, input) => callInternal(client, routes.createShare, { params: { userId }, json: input }),
    listShares: (userId) => callInternal(client, routes.listShares, { params: { userId }, retry: true }),
    updateShare: (userId, shareId, input) =>
      callInternal(client, routes.updateShare, { params: { userId, shareId }, json: input }),
    revokeShare: async (userId, shareId) => {
      await callInternal(client, routes.revokeShare, { params: { userId, shareId } });
    },
    // Not retried: the first page of a visit counts it.
    viewShare: (key, token, limit, cursor) =>
      callInternal(client, routes.viewShare, { params: { key }, query: { limit, cursor, token } }),
    unlockShare: (key, password, address) =>
      callInternal(client, routes.unlockShare, { params: { key }, json: { password, address } }),

    async openShared(key, imageId, variant, request): Promise<SharedMedia> {
      const headers: Record<string, string> = {};
      if (request.ifNoneMatch !== undefined) headers['if-none-match'] = request.ifNoneMatch;
      // Passed on as it came: only the storage service knows the size it is resolved against.
      if (request.range) headers.range = request.range.header;
      // Not retried: the storage service charges the owner's transfer when it opens the object.
      const response = await client.call({
        method: routes.openShared.method,
        path: internalPath(routes.openShared, { key, imageId, variant }),
        query: { exp: request.exp, sig: request.sig },
        headers,
      });
      const header = (name: string) => headerOf(response.headers, name);
      if (response.statusCode === 304) {
        await response.body.dump();
        return { notModified: true, etag: header('etag') };
      }
      response.body.on('error', () => {});
      const media = mediaResponse(
        {
          contentType: header('content-type'),
          length: Number(header('content-length')),
          totalSize: Number(header(MEDIA_HEADERS.totalSize)),
          range: response.statusCode === 206 ? rangeOf(header('content-range')) : undefined,
          etag: header('etag'),
          filename: decodeURIComponent(header(MEDIA_HEADERS.filename)),
        },
        undefined,
        response.body,
      );
      return Object.assign(media, { servedAs: header(MEDIA_HEADERS.servedAs) as Variant });
    },

    async archiveImages(userId, ids) {
      const response = await client.call({
        method: routes.archiveImages.method,
        path: internalPath(routes.archiveImages, { userId }),
        json: { ids: [...ids] },
      });
      return archiveOf(response);
    },

    async archiveShared(key, request) {
      const response = await client.call({
        method: routes.archiveShared.method,
        path: internalPath(routes.archiveShared, { key }),
        query: { exp: request.exp, sig: request.sig },
      });
      return archiveOf(response);
    },
  };
}

function archiveOf(response: Dispatcher.ResponseData): Archive {
  response.body.on('error', () => {});
  const length = headerOf(response.headers, 'content-length');
  return {
    stream: response.body as Readable,
    length: length === '' ? undefined : Number(length),
    filename: decodeURIComponent(headerOf(response.headers, MEDIA_HEADERS.filename)),
  };
}

/** The range a 206 answer holds, from its `Content-Range: bytes <start>-<end>/<size>`. */
function rangeOf(contentRange: string): ByteRange | undefined {
  const match = /^bytes (\d+)-(\d+)\/\d+$/.exec(contentRange);
  return match ? { start: Number(match[1]), end: Number(match[2]) } : undefined;
}

function headerOf(headers: Record<string, string | string[] | undefined>, name: string): string {
  const value = headers[name];
  return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
}
