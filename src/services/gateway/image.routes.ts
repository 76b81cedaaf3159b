import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

import { errors } from '../../api/errors.js';
import {
  GalleryQuerySchema,
  ImageIdParamsSchema,
  ImagePageSchema,
  ImageSchema,
  MediaQuerySchema,
  UploadResultSchema,
  type MediaQuery,
} from '../../api/images.js';

import { bearerToken, principalOf, requireUser } from '../../http/auth-hook.js';
import { typed } from '../../http/typed.js';
import { fileParts, uploadLimits } from '../../http/upload-parts.js';
import { AppError, notFound, unauthorized } from '../../lib/app-error.js';
import { etagMatches } from '../../lib/etag.js';
import { isStreamedVariant } from '../../modules/images/image-objects.js';
import { isImageId, VARIANTS, type Variant } from '../../modules/images/media-url.js';
import { addFastLane } from '../../http/fast-lane.js';
import { rangeRequest } from '../range-request.js';
import type { GatewayDeps } from './gateway-deps.js';
import { declinedOpen, mediaAnswerHeaders, mediaCachingHeaders as cachingHeaders, mediaLane } from './media-lane.js';

const VARIANT_SUMMARIES: Record<Variant, string> = {
  original: 'The original file, byte for byte (Range supported)',
  preview: 'The preview: WebP, about 1600 px on the long side',
  thumbnail: 'The thumbnail: WebP, about 400 px on the long side (not counted as transfer)',
  playback: 'A video’s H.264/AAC MP4 copy for browsers that cannot play the original (Range supported)',
};

export async function imageRoutes(fastify: FastifyInstance, deps: GatewayDeps): Promise<void> {
  const app = typed(fastify);
  const { services, mediaUrls, config } = deps;
  const authenticated = requireUser(services().auth);
  // Plain GETs of media by signed URL or token are answered before routing; the routes below answer
  // everything else (HEAD, ranges, errors), and whatever the lane declines.
  addFastLane(fastify.server, mediaLane(deps));

  app.post(
    '/api/v1/images',
    {
      preHandler: authenticated,
      schema: {
        tags: ['images'],
        summary: 'Upload one or more images (multipart/form-data, any field name, usually "file")',
        consumes: ['multipart/form-data'],
        response: {
          200: { ...UploadResultSchema, description: 'Every file was already there' },
          201: UploadResultSchema,
          ...errors(400, 401, 413, 415, 429),
        },
      },
    },
    async (request, reply) => {
      if (!request.isMultipart()) {
        throw new AppError('expected_multipart', 415, 'Send images as multipart/form-data, one file per part.');
      }
      const { userId } = principalOf(request);
      const { images } = services(request);
      await images.assertCanUpload(userId);
      const uploaded = await images.upload(userId, fileParts(request, uploadLimits(config)));
      const status = uploaded.every((image) => image.duplicate) ? 200 : 201;
      return reply.status(status).send({ images: uploaded });
    },
  );

  app.get(
    '/api/v1/images',
    {
      preHandler: authenticated,
      schema: {
        tags: ['images'],
        summary: 'The gallery (photos not in the trash), newest taken first, a page at a time',
        description: '`favorite=true` lists only favourites.',
        querystring: GalleryQuerySchema,
        response: {
          200: ImagePageSchema,
          ...errors(400, 401),
        },
      },
    },
    async (request) => {
      const { limit, cursor, favorite } = request.query;
      return services(request).images.list(principalOf(request).userId, limit, cursor, favorite);
    },
  );

  app.get(
    '/api/v1/images/:id',
    {
      preHandler: authenticated,
      schema: {
        tags: ['images'],
        summary: 'One image’s metadata',
        params: ImageIdParamsSchema,
        response: { 200: ImageSchema, ...errors(401, 404) },
      },
    },
    async (request) => services(request).images.get(principalOf(request).userId, imageIdOrNotFound(request.params.id)),
  );

  app.delete(
    '/api/v1/images/:id',
    {
      preHandler: authenticated,
      schema: {
        tags: ['images'],
        summary: 'Move an image to the trash',
        description:
          'It leaves the gallery and its albums (which keep it for a restore), and still counts toward the storage quota until it is purged after PIXA_TRASH_DAYS, or deleted for good from the trash. With PIXA_TRASH_DAYS=0 it is deleted at once.',
        params: ImageIdParamsSchema,
        response: errors(401, 404),
      },
    },
    async (request, reply) => {
      await services(request).images.trash(principalOf(request).userId, imageIdOrNotFound(request.params.id));
      return reply.status(204).send();
    },
  );

  for (const [method, favorite] of [
    ['PUT', true],
    ['DELETE', false],
  ] as const) {
    app.route({
      method,
      url: '/api/v1/images/:id/favorite',
      preHandler: authenticated,
      schema: {
        tags: ['images'],
        summary: favorite ? 'Mark an image as a favourite' : 'Unmark a favourite',
        params: ImageIdParamsSchema,
        response: errors(401, 404),
      },
      handler: async (request, reply) => {
        await services(request).images.setFavorite(
          principalOf(request).userId,
          imageIdOrNotFound(request.params.id),
          favorite,
        );
        return reply.status(204).send();
      },
    });
  }

  // One route per variant, so that an unknown variant is an unknown route (404), like any other.
  // HEAD is declared, not derived from GET: a derived HEAD would read (and charge) the whole file.
  for (const variant of VARIANTS) {
    app.route({
      method: ['GET', 'HEAD'],
      url: `/api/v1/images/:id/${variant}`,
      ...mediaRoute(variant),
      handler: (request, reply) => sendMedia(request, reply, variant, request.params.id, request.query),
    });
  }

  function mediaRoute(variant: Variant) {
    return {
      // A gallery page loads dozens of these: no access log lines for them (metrics count them);
      // warnings and errors are still logged, with the request id.
      logLevel: 'warn' as const,
      schema: {
        tags: ['images'],
        summary: VARIANT_SUMMARIES[variant],
        description:
          'Authorised by the signed `exp`/`u`/`sig` query of the URLs in image listings (so it works in <img src>) ' +
          'or by a Bearer token. `download=1` asks the browser to save the file under its original name.',
        params: ImageIdParamsSchema,
        querystring: MediaQuerySchema,
        response: errors(401, 403, 404, 416, 429),
      },
    };
  }

  async function sendMedia(
    request: FastifyRequest,
    reply: FastifyReply,
    variant: Variant,
    id: string,
    query: MediaQuery,
  ) {
    const userId = await mediaViewer(request, id, variant, query);
    const ifNoneMatch = request.headers['if-none-match'];

    // HEAD sends no bytes, so it must not be counted as a download: answer from the metadata.
    if (request.method === 'HEAD') {
      const info = await services(request).images.describe(userId, id, variant);
      if (etagMatches(ifNoneMatch, info.etag)) return reply.status(304).headers(cachingHeaders(info.etag)).send();
      return reply
        .headers(cachingHeaders(info.etag))
        .headers({ 'content-type': info.contentType, 'content-length': String(info.size) })
        .headers(isStreamedVariant(variant) ? { 'accept-ranges': 'bytes' } : {})
        .send();
    }

    // Only an original (or a video's copy) with a Range header needs its size first (over HTTP, that is one more call).
    // An unsatisfiable range fails inside open(), before any transfer is charged or logged.
    const range = isStreamedVariant(variant) ? rangeRequest(request.headers.range)?.resolve : undefined;
    // The fast lane may have opened this very request already and failed: its error is the answer.
    const tried = declinedOpen(request.raw);
    if (tried) throw tried.error;
    const media = await services(request).images.open(userId, id, variant, { range, ifNoneMatch });
    if (media.notModified) return reply.status(304).headers(cachingHeaders(media.etag)).send();

    if (media.range) reply.status(206);
    return reply.headers(mediaAnswerHeaders(media, variant, query.download === '1')).send(media.body ?? media.stream);
  }

  /**
   * Who may see this image: the bearer of a valid token (who must own it: another account's image
   * answers 404 as if it did not exist), or anyone holding a correctly signed, unexpired URL.
   */
  async function mediaViewer(
    request: FastifyRequest,
    imageId: string,
    variant: Variant,
    query: MediaQuery,
  ): Promise<string> {
    if (!isImageId(imageId)) throw notFound();
    const token = bearerToken(request);
    if (token) return (await services(request).auth.authenticate(token)).userId;
    if (query.sig === undefined || query.exp === undefined) {
      throw unauthorized('This image needs a signed link or an Authorization: Bearer token.');
    }
    // The signature covers the owner, who rides along as `u`, so checking it needs no lookup. A link
    // without `u` matches no signature.
    const owner = query.u ?? '';
    mediaUrls.check(owner, imageId, variant, query.exp, query.sig);
    return owner;
  }
}

/** A malformed id names no image: 404 here, like an unknown one, without asking the storage service. */
function imageIdOrNotFound(id: string): string {
  if (!isImageId(id)) throw notFound();
  return id;
}
