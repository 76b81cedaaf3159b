import { pipeline } from 'node:stream/promises';

import type { FastLane } from '../../http/fast-lane.js';
import { INTERNAL_TOKEN_HEADER, internalTokenCheck } from '../../http/internal-auth.js';
import { internalRoutes as routes, MEDIA_HEADERS } from '../../api/internal.js';
import type { ImageService, MediaResponse } from '../../modules/images/image.service.js';
import type { Variant } from '../../modules/images/media-url.js';

/** The open-variant route with plain ids and no query; anything else (escapes, a query) is Fastify's. */
const OPEN_PATH =
  /^\/internal\/users\/([0-9A-Za-z-]{1,64})\/images\/([0-9A-Za-z-]{1,64})\/(thumbnail|preview|original|playback)$/;

/** The headers of a variant the storage service sends the gateway: its type, size, ETag and name. */
export const storedMediaHeaders = (media: MediaResponse): Record<string, string> => ({
  'content-type': media.contentType,
  'content-length': String(media.length),
  etag: media.etag,
  [MEDIA_HEADERS.totalSize]: String(media.totalSize),
  [MEDIA_HEADERS.filename]: encodeURIComponent(media.filename),
});

export interface StorageLaneDeps {
  /** The image service itself, not the instrumented one: a declined request is counted by the route. */
  images: ImageService;
  internalToken: string;
  /** Counts the bytes of an answer sent (the route counts its own through the instrumented service). */
  sent(bytes: number): void;
}

/**
 * The gateway's media calls without the framework around them: a GET of a whole variant with the
 * internal token, answered 200 or 304 by the image service as the open-variant route would. Anything
 * else (a Range, a bad token, an unknown image, a quota reached, any error) is declined before a byte
 * is written, and the route answers it from the start with its schema, error format and logs.
 */
export function storageMediaLane(deps: StorageLaneDeps): FastLane {
  const { images, sent } = deps;
  const validToken = internalTokenCheck(deps.internalToken);

  return (req, res) => {
    if (req.method !== 'GET' || req.headers.range !== undefined) return false;
    const url = req.url ?? '';
    if (!url.startsWith('/internal/users/')) return false;
    const match = OPEN_PATH.exec(url);
    if (!match || !validToken(req.headers[INTERNAL_TOKEN_HEADER])) return false;
    const [, userId, imageId, variant] = match as unknown as [string, string, string, Variant];
    return images
      .open(userId, imageId, variant, { ifNoneMatch: req.headers['if-none-match'] })
      .then((media) => {
        if (media.notModified) {
          res.writeHead(304, { etag: media.etag }).end();
          return { route: routes.openVariant.url, status: 304 };
        }
        res.writeHead(200, storedMediaHeaders(media));
        sent(media.length);
        if (media.body) res.end(media.body);
        // A gateway gone mid-stream ends the response (pipeline destroys the object's stream too).
        else pipeline(media.stream, res).catch(() => res.destroy());
        return { route: routes.openVariant.url, status: 200 };
      })
      .catch(() => false as const);
  };
}
