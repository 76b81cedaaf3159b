import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';

import { MEDIA_HEADERS } from '../../clients/image.client.js';
import { fileParts } from '../../http/upload-parts.js';
import { AppError } from '../../lib/app-error.js';
import type { ImageService, VariantInfo } from '../../modules/images/image.service.js';
import { VARIANTS, type Variant } from '../../modules/images/media-url.js';
import type { ObjectStore } from '../../storage/object-store.js';

const UserParams = Type.Object({ userId: Type.String({ maxLength: 64 }) });
const ImageParams = Type.Object({ userId: Type.String({ maxLength: 64 }), imageId: Type.String({ maxLength: 64 }) });
const VariantParams = Type.Object({
  userId: Type.String({ maxLength: 64 }),
  imageId: Type.String({ maxLength: 64 }),
  variant: Type.Union(VARIANTS.map((v) => Type.Literal(v))),
});

export interface StorageRoutesDeps {
  images: ImageService;
  store: ObjectStore;
  maxUploadBytes: number;
}

/**
 * The storage service's internal API: image bytes, metadata and the storage event log. Each route
 * hands off to the image service, which keeps an upload's row, storage charge and transfer charge
 * in one database transaction.
 */
export async function storageServiceRoutes(app: FastifyInstance, deps: StorageRoutesDeps): Promise<void> {
  const { images, store, maxUploadBytes } = deps;
  type Ids = { userId: string; imageId: string };
  type VariantIds = Ids & { variant: Variant };

  app.get('/internal/storage/ready', async (_request, reply) => {
    await store.ping();
    return reply.status(204).send();
  });

  app.get('/internal/users/:userId/upload-allowance', { schema: { params: UserParams } }, async (request, reply) => {
    await images.assertCanUpload((request.params as { userId: string }).userId);
    return reply.status(204).send();
  });

  app.post('/internal/users/:userId/images', { schema: { params: UserParams } }, async (request, reply) => {
    if (!request.isMultipart()) throw new AppError('expected_multipart', 415, 'Send images as multipart/form-data.');
    const uploaded = await images.upload(
      (request.params as { userId: string }).userId,
      fileParts(request, maxUploadBytes),
    );
    return reply.status(201).send({ images: uploaded });
  });

  app.get(
    '/internal/users/:userId/images',
    {
      schema: {
        params: UserParams,
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 200 }),
          cursor: Type.Optional(Type.String({ maxLength: 200 })),
        }),
      },
    },
    async (request) => {
      const { limit, cursor } = request.query as { limit: number; cursor?: string };
      return images.list((request.params as { userId: string }).userId, limit, cursor);
    },
  );

  app.get('/internal/users/:userId/images/:imageId', { schema: { params: ImageParams } }, async (request) => {
    const { userId, imageId } = request.params as Ids;
    return images.get(userId, imageId);
  });

  app.delete('/internal/users/:userId/images/:imageId', { schema: { params: ImageParams } }, async (request, reply) => {
    const { userId, imageId } = request.params as Ids;
    await images.remove(userId, imageId);
    return reply.status(204).send();
  });

  app.get(
    '/internal/users/:userId/images/:imageId/:variant/meta',
    { schema: { params: VariantParams } },
    async (request): Promise<VariantInfo> => {
      const { userId, imageId, variant } = request.params as VariantIds;
      return images.describe(userId, imageId, variant);
    },
  );

  app.get(
    '/internal/users/:userId/images/:imageId/:variant',
    // Like the public media route: one per image shown, so no access log lines.
    { schema: { params: VariantParams }, logLevel: 'warn' },
    async (request, reply) => {
      const { userId, imageId, variant } = request.params as VariantIds;
      // The gateway sends one exact range, already checked against the size it asked for.
      const match = /^bytes=(\d+)-(\d+)$/.exec(request.headers.range ?? '');
      const range = match ? { start: Number(match[1]), end: Number(match[2]) } : undefined;
      const media = await images.open(userId, imageId, variant, {
        range: range && (() => range),
        ifNoneMatch: request.headers['if-none-match'],
      });
      if (media.notModified) return reply.status(304).header('etag', media.etag).send();
      reply.headers({
        'content-type': media.contentType,
        'content-length': String(media.length),
        etag: media.etag,
        [MEDIA_HEADERS.totalSize]: String(media.totalSize),
        [MEDIA_HEADERS.filename]: encodeURIComponent(media.filename),
      });
      if (media.range) {
        reply.status(206).header('content-range', `bytes ${media.range.start}-${media.range.end}/${media.totalSize}`);
      }
      return reply.send(media.stream);
    },
  );
}
