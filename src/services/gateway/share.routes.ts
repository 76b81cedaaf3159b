import type { FastifyInstance, FastifyReply } from 'fastify';

import { errors } from '../../api/errors.js';
import {
  ArchiveRequestSchema,
  CreatedShareSchema,
  CreateShareSchema,
  SERVED_AS_HEADER,
  SHARE_TOKEN_HEADER,
  SharedMediaParamsSchema,
  SharedMediaQuerySchema,
  SharedPageQuerySchema,
  SharedPageSchema,
  ShareIdParamsSchema,
  ShareKeyParamsSchema,
  ShareListSchema,
  ShareSchema,
  ShareTokenSchema,
  UnlockShareSchema,
  UpdateShareSchema,
} from '../../api/shares.js';
import { principalOf, requireUser } from '../../http/auth-hook.js';
import { contentDisposition } from '../../http/media-headers.js';
import { typed } from '../../http/typed.js';
import { noSuchLink } from '../../modules/shares/share-access.js';
import { isShareKey } from '../../modules/shares/share-keys.js';
import type { Archive } from '../../modules/shares/sharing.js';
import { rangeRequest } from '../range-request.js';
import type { GatewayDeps } from './gateway-deps.js';

/**
 * Share links: the owner's routes (create, list, change, revoke), the public routes a visitor uses
 * without an account (the page, unlocking, media, the ZIP), and the owner's ZIP of originals.
 */
export async function shareRoutes(fastify: FastifyInstance, deps: GatewayDeps): Promise<void> {
  const app = typed(fastify);
  const { services } = deps;
  const authenticated = requireUser(services().auth);
  const tags = ['shares'];

  app.post(
    '/api/v1/shares',
    {
      preHandler: authenticated,
      schema: {
        tags,
        summary: 'Create a share link to an album or to chosen photos; the answer holds its URL, shown only once',
        body: CreateShareSchema,
        response: { 201: CreatedShareSchema, ...errors(400, 401, 404) },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await services(request).shares.createShare(principalOf(request).userId, request.body)),
  );

  app.get(
    '/api/v1/shares',
    {
      preHandler: authenticated,
      schema: {
        tags,
        summary: 'Your share links that are not revoked, newest first, with views and last access',
        response: { 200: ShareListSchema, ...errors(401) },
      },
    },
    async (request) => services(request).shares.listShares(principalOf(request).userId),
  );

  app.patch(
    '/api/v1/shares/:id',
    {
      preHandler: authenticated,
      schema: {
        tags,
        summary: 'Change a link: expiry, password (null removes it), downloads, what visitors see',
        params: ShareIdParamsSchema,
        body: UpdateShareSchema,
        response: { 200: ShareSchema, ...errors(400, 401, 404) },
      },
    },
    async (request) =>
      services(request).shares.updateShare(principalOf(request).userId, request.params.id, request.body),
  );

  app.delete(
    '/api/v1/shares/:id',
    {
      preHandler: authenticated,
      schema: {
        tags,
        summary: 'Revoke a link: it answers 404 from now on',
        params: ShareIdParamsSchema,
        response: errors(401, 404),
      },
    },
    async (request, reply) => {
      await services(request).shares.revokeShare(principalOf(request).userId, request.params.id);
      return reply.status(204).send();
    },
  );

  app.post(
    '/api/v1/images/archive',
    {
      preHandler: authenticated,
      schema: {
        tags: ['images'],
        summary:
          'A ZIP of your originals (at most 500), streamed; refused with 429 when it does not fit today’s transfer',
        body: ArchiveRequestSchema,
        produces: ['application/zip'],
        response: errors(400, 401, 404, 429),
      },
    },
    async (request, reply) =>
      sendArchive(reply, await services(request).shares.archiveImages(principalOf(request).userId, request.body.ids)),
  );

  // ---- Public: no account -------------------------------------------------------------------------

  app.get(
    '/api/v1/shared/:key',
    {
      // A HEAD would count as a visit.
      exposeHeadRoute: false,
      schema: {
        tags,
        summary: 'What a share link shows: title, photos a page at a time (no account needed)',
        description: `A password-protected link needs the token of POST /api/v1/shared/{key}/unlock in the ${SHARE_TOKEN_HEADER} header.`,
        params: ShareKeyParamsSchema,
        querystring: SharedPageQuerySchema,
        response: { 200: SharedPageSchema, ...errors(400, 401, 404, 429) },
      },
    },
    async (request, reply) => {
      const token = request.headers[SHARE_TOKEN_HEADER];
      const page = await services(request).shares.viewShare(
        keyOrNotFound(request.params.key),
        typeof token === 'string' ? token : undefined,
        request.query.limit,
        request.query.cursor,
      );
      return reply.header('cache-control', 'no-store').send(page);
    },
  );

  app.post(
    '/api/v1/shared/:key/unlock',
    {
      schema: {
        tags,
        summary: 'Unlock a password-protected link: a token for this link only, for an hour',
        params: ShareKeyParamsSchema,
        body: UnlockShareSchema,
        response: { 200: ShareTokenSchema, ...errors(400, 401, 404, 429) },
      },
    },
    async (request) =>
      services(request).shares.unlockShare(keyOrNotFound(request.params.key), request.body.password, request.ip),
  );

  app.get(
    '/api/v1/shared/:key/images/:imageId/:variant',
    {
      // No HEAD derived from GET: it would open, and charge, the bytes.
      exposeHeadRoute: false,
      logLevel: 'warn',
      schema: {
        tags,
        summary:
          'A shared photo’s thumbnail, preview or original (its location removed), or a shared video’s stream ' +
          '(`playback`), by the signed URL of the page',
        description:
          `An original whose location cannot be removed without re-encoding is served as its preview, with ${SERVED_AS_HEADER}: preview. ` +
          '`playback` (urls.video) plays a video whether or not downloads are allowed: its H.264 copy once made ' +
          `(${SERVED_AS_HEADER}: playback), else its MP4/MOV original with the location boxes renamed, same length ` +
          `(${SERVED_AS_HEADER}: original). A video's playback and original, and a HEIC original, honour Range (206).`,
        params: SharedMediaParamsSchema,
        querystring: SharedMediaQuerySchema,
        response: errors(403, 404, 416, 429),
      },
    },
    async (request, reply) => {
      const { key, imageId, variant } = request.params;
      const { exp, sig, download } = request.query;
      const ifNoneMatch = request.headers['if-none-match'];
      // Only a video's streams and the originals rewritten in place take a range; other media are sent whole.
      const range = variant === 'playback' || variant === 'original' ? rangeRequest(request.headers.range) : undefined;
      const media = await services(request).shares.openShared(keyOrNotFound(key), imageId, variant, {
        exp,
        sig,
        ifNoneMatch,
        range,
      });
      const caching = {
        // Short-lived: a revoked link's photos should not stay in caches for long.
        'cache-control': 'private, max-age=3600',
        'x-content-type-options': 'nosniff',
        'content-security-policy': "default-src 'none'; sandbox",
        'cross-origin-resource-policy': 'same-origin',
        'referrer-policy': 'no-referrer',
        etag: media.etag,
      };
      if (media.notModified) return reply.status(304).headers(caching).send();
      const filename =
        media.servedAs === 'preview' && variant !== 'preview'
          ? media.filename.replace(/\.[^.]*$/, '') + '.webp'
          : media.filename;
      // What the service serves by range: a video's streams, and originals rewritten in place (video, HEIC).
      const ranged =
        media.servedAs === 'playback' ||
        (media.servedAs === 'original' && /^(video\/|image\/hei[cf]$)/.test(media.contentType));
      if (media.range) {
        reply.status(206).header('content-range', `bytes ${media.range.start}-${media.range.end}/${media.totalSize}`);
      }
      return reply
        .headers(caching)
        .headers({
          'content-type': media.contentType,
          'content-length': String(media.length),
          'content-disposition': contentDisposition(download === '1' ? 'attachment' : 'inline', filename),
          'accept-ranges': ranged || media.range ? 'bytes' : 'none',
          [SERVED_AS_HEADER]: media.servedAs,
        })
        .send(media.body ?? media.stream);
    },
  );

  app.get(
    '/api/v1/shared/:key/archive',
    {
      exposeHeadRoute: false,
      schema: {
        tags,
        summary: 'A ZIP of every photo of a link (originals without location), by the signed URL of the page',
        params: ShareKeyParamsSchema,
        querystring: SharedMediaQuerySchema,
        produces: ['application/zip'],
        response: errors(403, 404, 429),
      },
    },
    async (request, reply) => {
      const { exp, sig } = request.query;
      return sendArchive(
        reply,
        await services(request).shares.archiveShared(keyOrNotFound(request.params.key), { exp, sig }),
      );
    },
  );
}

/** A key of the wrong shape names no link: the same 404 as any other, without a lookup. */
function keyOrNotFound(key: string): string {
  if (!isShareKey(key)) throw noSuchLink();
  return key;
}

function sendArchive(reply: FastifyReply, archive: Archive): FastifyReply {
  reply.headers({
    'content-type': 'application/zip',
    'content-disposition': contentDisposition('attachment', archive.filename),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  if (archive.length !== undefined) reply.header('content-length', String(archive.length));
  return reply.send(archive.stream);
}
