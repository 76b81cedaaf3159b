import type { FastifyInstance } from 'fastify';

import { internalRoutes as routes } from '../../api/internal.js';
import { internalRoute } from '../../http/internal-route.js';
import { fileParts, type UploadLimits } from '../../http/upload-parts.js';
import { AppError } from '../../lib/app-error.js';
import type { AlbumService } from '../../modules/albums/album.service.js';
import type { ImageService } from '../../modules/images/image.service.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { libraryRoutes } from './library.routes.js';

export interface StorageRoutesDeps {
  images: ImageService;
  albums: AlbumService;
  store: ObjectStore;
  limits: UploadLimits;
}

/**
 * The storage service's internal API: uploads, deletes and the library's changes. Each route hands
 * off to the image service, which keeps an upload's row, storage charge and transfer charge in one
 * database transaction. Reads (pages, photos, their bytes) are the gateway's own, from the shared
 * database and store (app/gateway-reads.ts).
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

  internalRoute(app, routes.deleteImage, async (request, reply) => {
    await images.remove(request.params.userId, request.params.imageId);
    return reply.status(204).send();
  });

  libraryRoutes(app, images, albums);
}
