import type { FastifyInstance } from 'fastify';

import { internalRoutes as routes } from '../../api/internal.js';
import { internalRoute } from '../../http/internal-route.js';
import { fileParts, type UploadLimits } from '../../http/upload-parts.js';
import { AppError } from '../../lib/app-error.js';
import type { AlbumService } from '../../modules/albums/album.service.js';
import type { ImageService } from '../../modules/images/image.service.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { libraryRoutes } from './library.routes.js';
import { storedMediaHeaders } from './media-lane.js';

export interface StorageRoutesDeps {
  images: ImageService;
  albums: AlbumService;
  store: ObjectStore;
  limits: UploadLimits;
}

/**
 * The storage service's internal API: image bytes, metadata and the storage event log. Each route
 * hands off to the image service, which keeps an upload's row, storage charge and transfer charge
 * in one database transaction.
 */
export async function storageServiceRoutes(app: FastifyInstance, deps: StorageRoutesDeps): Promise<void> {
  const { images, albums, store, limits } = deps;

  internalRoute(app, routes.storageReady, async (_request, reply) => {
    await store.ping();
    return reply.status(204).send();
  });

  internalRoute(app, routes.uploadAllowance, async (request, reply) => {
    await images.assertCanUpload(request.params.userId);
    return reply.status(204).send();
  });

  internalRoute(app, routes.upload, async (request, reply) => {
    if (!request.isMultipart()) throw new AppError('expected_multipart', 415, 'Send images as multipart/form-data.');
    const uploaded = await images.upload(request.params.userId, fileParts(request, limits));
    return reply.status(201).send({ images: uploaded });
  });

  internalRoute(app, routes.listImages, async (request) =>
    images.list(request.params.userId, request.query.limit, request.query.cursor, request.query.favorite),
  );

  internalRoute(app, routes.getImage, async (request) => images.get(request.params.userId, request.params.imageId));

  internalRoute(app, routes.deleteImage, async (request, reply) => {
    await images.remove(request.params.userId, request.params.imageId);
    return reply.status(204).send();
  });

  libraryRoutes(app, images, albums);

  internalRoute(app, routes.describeVariant, async (request) => {
    const { userId, imageId, variant } = request.params;
    return images.describe(userId, imageId, variant);
  });

  internalRoute(
    app,
    routes.openVariant,
    async (request, reply) => {
      const { userId, imageId, variant } = request.params;
      // The gateway sends one exact range, already checked against the size it asked for.
      const match = /^bytes=(\d+)-(\d+)$/.exec(request.headers.range ?? '');
      const range = match ? { start: Number(match[1]), end: Number(match[2]) } : undefined;
      const media = await images.open(userId, imageId, variant, {
        range: range && (() => range),
        ifNoneMatch: request.headers['if-none-match'],
      });
      if (media.notModified) return reply.status(304).header('etag', media.etag).send();
      reply.headers(storedMediaHeaders(media));
      if (media.range) {
        reply.status(206).header('content-range', `bytes ${media.range.start}-${media.range.end}/${media.totalSize}`);
      }
      return reply.send(media.body ?? media.stream);
    },
    // Like the public media route: one per image shown, so no access log lines.
    { logLevel: 'warn' },
  );
}
