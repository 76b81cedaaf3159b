import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';

import type { FastLane, LaneAnswer } from '../../http/fast-lane.js';
import { contentDisposition } from '../../http/media-headers.js';
import type { MediaResponse, NotModified } from '../../modules/images/image.service.js';
import { isStreamedVariant } from '../../modules/images/image-objects.js';
import type { Variant } from '../../modules/images/media-url.js';
import { newRequestContext, runInRequestContext } from '../../lib/request-context.js';
import type { GatewayDeps } from './gateway-deps.js';

/** `/api/v1/images/<id>/<variant>` with an optional query; anything else is Fastify's. */
const MEDIA_PATH = /^\/api\/v1\/images\/([0-9A-Za-z-]{1,64})\/(thumbnail|preview|original|playback)(?:\?([^#]*))?$/;
const BEARER = /^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** The query the media routes accept, with the schema's length limits. */
const QUERY_LIMITS: Readonly<Record<string, number>> = { exp: 20, u: 64, sig: 100, download: 5 };

const ROUTES: Record<Variant, string> = {
  original: '/api/v1/images/:id/original',
  preview: '/api/v1/images/:id/preview',
  thumbnail: '/api/v1/images/:id/thumbnail',
  playback: '/api/v1/images/:id/playback',
};

/** Headers of every media answer, 304 included: a media file is immutable under its URL. */
export const mediaCachingHeaders = (etag: string): Record<string, string> => ({
  'cache-control': 'private, max-age=31536000, immutable',
  etag,
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; sandbox",
  'cross-origin-resource-policy': 'same-origin',
});

/** The headers of a 200 or 206 media answer: caching and safety, type, length, ranges, file name. */
export function mediaAnswerHeaders(media: MediaResponse, variant: Variant, download: boolean): Record<string, string> {
  const headers = mediaCachingHeaders(media.etag);
  headers['content-type'] = media.contentType;
  headers['content-length'] = String(media.length);
  headers['accept-ranges'] = isStreamedVariant(variant) ? 'bytes' : 'none';
  headers['content-disposition'] = contentDisposition(download ? 'attachment' : 'inline', media.filename);
  if (media.range) headers['content-range'] = `bytes ${media.range.start}-${media.range.end}/${media.totalSize}`;
  return headers;
}

/**
 * The gallery's hot path without the framework around it: a GET of a thumbnail, preview or original
 * (no Range) by signed URL or Bearer token, that the image service answers with 200 or 304. It runs
 * the same checks in the same order as the media routes, through the same services, and declines as
 * soon as anything is not plain (a Range, an unknown query parameter, a bad signature, an unknown
 * image, a quota reached): then the routes answer, with their schema, error format and logging. What
 * it skips is what a successful media answer never needed: routing, schema validation, hooks and
 * the per-request promise chain of Fastify. Media routes write no access log lines either way.
 */
export function mediaLane(deps: GatewayDeps, options: { requestContext?: boolean } = {}): FastLane {
  const { auth, images, mediaUrls } = deps;

  async function serve(
    req: IncomingMessage,
    res: ServerResponse,
    id: string,
    variant: Variant,
    query: Record<string, string>,
    requestId: string,
  ): Promise<LaneAnswer | false> {
    const authorization = req.headers.authorization;
    let userId: string;
    if (authorization !== undefined) {
      const token = BEARER.exec(authorization)?.[1];
      if (!token) return false;
      userId = (await auth.authenticate(token)).userId;
    } else {
      if (query.sig === undefined || query.exp === undefined || query.u === undefined) return false;
      mediaUrls.check(query.u, id, variant, query.exp, query.sig);
      userId = query.u;
    }
    const ifNoneMatch = req.headers['if-none-match'];
    let media: MediaResponse | NotModified;
    try {
      media = await images.open(userId, id, variant, { ifNoneMatch });
    } catch (error) {
      // The route answers it without opening again: a refusal is counted and logged once.
      declined.set(req, error);
      throw error;
    }
    if (media.notModified) {
      res.writeHead(304, { ...mediaCachingHeaders(media.etag), 'x-request-id': requestId }).end();
      return { route: ROUTES[variant], status: 304 };
    }
    const headers = mediaAnswerHeaders(media, variant, query.download === '1');
    headers['x-request-id'] = requestId;
    res.writeHead(200, headers);
    if (media.body) res.end(media.body);
    // A client gone mid-stream ends the response; nothing more to answer.
    else await pipeline(media.stream, res).catch(() => res.destroy());
    return { route: ROUTES[variant], status: 200 };
  }

  return (req, res) => {
    if (req.method !== 'GET' || req.headers.range !== undefined) return false;
    const url = req.url ?? '';
    if (!url.startsWith('/api/v1/images/')) return false;
    const match = MEDIA_PATH.exec(url);
    if (!match) return false;
    const query = parseQuery(match[3]);
    if (!query) return false;
    const given = req.headers['x-request-id'];
    const requestId = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    const served = () => serve(req, res, match[1]!, match[2] as Variant, query, requestId);
    // In a pod the image service is the storage service over HTTP: its calls carry the request id.
    return (options.requestContext ? runInRequestContext(newRequestContext(requestId), served) : served()).catch(
      () => false as const,
    );
  };
}

/** What opening the media failed with in the lane, for the route that then answers the same request. */
const declined = new WeakMap<IncomingMessage, unknown>();

/** Whether the lane already tried to open this request's media; then the route throws what it got. */
export function declinedOpen(req: IncomingMessage): { error: unknown } | undefined {
  return declined.has(req) ? { error: declined.get(req) } : undefined;
}

/** The query as the media routes' schema would accept it, or undefined for anything else. */
function parseQuery(raw: string | undefined): Record<string, string> | undefined {
  const query: Record<string, string> = {};
  if (!raw) return query;
  for (const pair of raw.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = eq < 0 ? pair : pair.slice(0, eq);
    const value = eq < 0 ? '' : pair.slice(eq + 1);
    const limit = QUERY_LIMITS[name];
    // Escapes, repeats and unknown names are rare in links Pixa made: the routes handle them.
    if (limit === undefined || value.length > limit || value.includes('%') || value.includes('+')) return undefined;
    if (query[name] !== undefined) return undefined;
    query[name] = value;
  }
  return query;
}
