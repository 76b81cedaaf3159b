import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';

import { LRUCache } from 'lru-cache';

import type { FastLane, LaneAnswer } from '../../http/fast-lane.js';
import { contentDisposition } from '../../http/media-headers.js';
import type { MediaResponse, NotModified } from '../../modules/images/image.service.js';
import { isStreamedVariant } from '../../modules/images/image-objects.js';
import type { Variant } from '../../modules/images/media-url.js';
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

/**
 * Signed URLs remembered once their signature was checked, keyed by path and query: a gallery asks
 * for the same few hundred again and again, and the HMAC is most of what a signed request costs
 * beyond a Bearer one. ~10,000 URLs of ~200 bytes hold a few MB at most.
 */
const SIGNED_URLS_MAX = 10_000;

/** What a checked signed URL names, and until when it may be used. */
interface SignedTarget {
  id: string;
  variant: Variant;
  userId: string;
  download: boolean;
  /** Epoch ms, by the signer's clock: from then on the URL is refused again (by the route, 403). */
  expiresAt: number;
}

/** The headers of a 200 for one small variant's bytes, made once per cached body and disposition. */
interface PreparedHeaders {
  etag: string;
  filename: string;
  inline?: string[];
  attachment?: string[];
}

const CACHING = 'private, max-age=31536000, immutable';
const SANDBOX = "default-src 'none'; sandbox";

/** Headers of every media answer, 304 included: a media file is immutable under its URL. */
export const mediaCachingHeaders = (etag: string): Record<string, string> => ({
  'cache-control': CACHING,
  etag,
  'x-content-type-options': 'nosniff',
  'content-security-policy': SANDBOX,
  'cross-origin-resource-policy': 'same-origin',
});

/** mediaCachingHeaders() and the request id, as the flat array `writeHead` takes without a copy. */
const notModifiedHeaders = (etag: string, requestId: string): string[] => [
  'cache-control',
  CACHING,
  'etag',
  etag,
  'x-content-type-options',
  'nosniff',
  'content-security-policy',
  SANDBOX,
  'cross-origin-resource-policy',
  'same-origin',
  'x-request-id',
  requestId,
];

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
export function mediaLane(deps: GatewayDeps): FastLane {
  // Media answers call no other service: the reads are this process's own in either mode.
  const { auth, images } = deps.services();
  const { mediaUrls } = deps;
  const signedUrls = new LRUCache<string, SignedTarget>({ max: SIGNED_URLS_MAX });
  // Keyed by the cached bytes themselves: dropped with them, and never shared by two images.
  const prepared = new WeakMap<Buffer, PreparedHeaders>();

  /** The 200 headers of a body the media cache holds, made on its first answer and reused after. */
  function headersOf(media: MediaResponse, body: Buffer, variant: Variant, download: boolean): string[] {
    let known = prepared.get(body);
    if (!known || known.etag !== media.etag || known.filename !== media.filename) {
      known = { etag: media.etag, filename: media.filename };
      prepared.set(body, known);
    }
    const disposition = download ? 'attachment' : 'inline';
    let headers = known[disposition];
    if (!headers) {
      headers = Object.entries(mediaAnswerHeaders(media, variant, download)).flat();
      known[disposition] = headers;
    }
    return headers;
  }

  /** Writes a 304, or a 200 of bytes in memory, with one write; undefined for a body still to stream. */
  function writeHeld(
    res: ServerResponse,
    media: MediaResponse | NotModified,
    target: { variant: Variant; download: boolean },
    requestId: string,
  ): LaneAnswer | undefined {
    const route = ROUTES[target.variant];
    if (media.notModified) {
      res.writeHead(304, notModifiedHeaders(media.etag, requestId)).end();
      return { route, status: 304 };
    }
    const body = media.body;
    if (!body) return undefined;
    res
      .writeHead(200, [...headersOf(media, body, target.variant, target.download), 'x-request-id', requestId])
      .end(body);
    return { route, status: 200 };
  }

  async function serve(
    req: IncomingMessage,
    res: ServerResponse,
    target: { id: string; variant: Variant; userId?: string; download: boolean },
    requestId: string,
  ): Promise<LaneAnswer | false> {
    const { id, variant } = target;
    let userId = target.userId;
    if (userId === undefined) {
      const token = BEARER.exec(req.headers.authorization ?? '')?.[1];
      if (!token) return false;
      userId = (await auth.authenticate(token)).userId;
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
    if (media.notModified || media.body) return writeHeld(res, media, target, requestId) ?? false;
    const headers = mediaAnswerHeaders(media, variant, target.download);
    headers['x-request-id'] = requestId;
    res.writeHead(200, headers);
    // A client gone mid-stream ends the response; nothing more to answer.
    await pipeline(media.stream, res).catch(() => res.destroy());
    return { route: ROUTES[variant], status: 200 };
  }

  /** The owner of the request's Bearer token when checking it needs no wait (authenticateCached). */
  function bearerInMemory(req: IncomingMessage): string | undefined {
    const token = BEARER.exec(req.headers.authorization ?? '')?.[1];
    return token === undefined ? undefined : auth.authenticateCached(token)?.userId;
  }

  /**
   * What a plain media URL names, with its signature checked once and remembered until the URL
   * expires; undefined for anything the routes should answer (including a bad or expired signature).
   */
  function targetOf(
    url: string,
    bearer: boolean,
  ): { id: string; variant: Variant; userId?: string; download: boolean } | undefined {
    if (!bearer) {
      const known = signedUrls.get(url);
      if (known) {
        if (!mediaUrls.expired(known.expiresAt)) return known;
        signedUrls.delete(url);
        return undefined;
      }
    }
    const match = MEDIA_PATH.exec(url);
    if (!match) return undefined;
    const query = parseQuery(match[3]);
    if (!query) return undefined;
    const id = match[1]!;
    const variant = match[2] as Variant;
    const download = query.download === '1';
    // A token names the viewer; the signed query is then not looked at (as in the routes).
    if (bearer) return { id, variant, download };
    if (query.sig === undefined || query.exp === undefined || query.u === undefined) return undefined;
    let expiresAt: number;
    try {
      expiresAt = mediaUrls.check(query.u, id, variant, query.exp, query.sig);
    } catch {
      return undefined;
    }
    const target: SignedTarget = { id, variant, userId: query.u, download, expiresAt };
    signedUrls.set(url, target);
    return target;
  }

  return (req, res) => {
    if (req.method !== 'GET' || req.headers.range !== undefined) return false;
    const url = req.url ?? '';
    if (!url.startsWith('/api/v1/images/')) return false;
    const target = targetOf(url, req.headers.authorization !== undefined);
    if (!target) return false;
    const given = req.headers['x-request-id'];
    const requestId = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    // A thumbnail the media cache holds, or a 304 it can tell, is answered without a promise, for a
    // signed URL or a token whose session is in memory.
    const userId = target.userId ?? bearerInMemory(req);
    if (userId !== undefined) {
      const held = images.openCached(userId, target.id, target.variant, req.headers['if-none-match']);
      const written = held && writeHeld(res, held, target, requestId);
      if (written) return written;
    }
    // Sessions and media are read in this process in either mode (in a pod from the shared database and
    // store: app/gateway-reads.ts), so no call leaves it. A rejection is a decline: the lane server
    // hands the request to Fastify (fast-lane.ts). A token found in memory above is not checked again.
    return serve(req, res, userId === target.userId ? target : { ...target, userId }, requestId);
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
