import type { FastifyInstance } from 'fastify';

import { internalRoutes as routes } from '../../api/internal.js';
import { internalRoute } from '../../http/internal-route.js';
import type { AlbumService } from '../../modules/albums/album.service.js';
import type { ImageService } from '../../modules/images/image.service.js';

/** The storage service's internal routes for organising a library: favourites, the trash and albums. */
export function libraryRoutes(app: FastifyInstance, images: ImageService, albums: AlbumService): void {
  internalRoute(app, routes.trashImage, async (request, reply) => {
    await images.trash(request.params.userId, request.params.imageId);
    return reply.status(204).send();
  });

  internalRoute(app, routes.setFavorite, async (request, reply) => {
    await images.setFavorite(request.params.userId, request.params.imageId, request.body.favorite);
    return reply.status(204).send();
  });

  internalRoute(app, routes.listTrash, async (request) =>
    images.listTrash(request.params.userId, request.query.limit, request.query.cursor),
  );

  internalRoute(app, routes.restoreFromTrash, async (request) =>
    images.restore(request.params.userId, request.body.ids),
  );

  internalRoute(app, routes.emptyTrash, async (request) => images.emptyTrash(request.params.userId));

  internalRoute(app, routes.deleteFromTrash, async (request, reply) => {
    await images.deleteForGood(request.params.userId, request.params.imageId);
    return reply.status(204).send();
  });

  internalRoute(app, routes.createAlbum, async (request, reply) =>
    reply.status(201).send(await albums.createAlbum(request.params.userId, request.body)),
  );

  internalRoute(app, routes.updateAlbum, async (request) =>
    albums.updateAlbum(request.params.userId, request.params.albumId, request.body),
  );

  internalRoute(app, routes.deleteAlbum, async (request, reply) => {
    await albums.deleteAlbum(request.params.userId, request.params.albumId);
    return reply.status(204).send();
  });

  internalRoute(app, routes.addToAlbum, async (request) =>
    albums.addToAlbum(request.params.userId, request.params.albumId, request.body.ids),
  );

  internalRoute(app, routes.removeFromAlbum, async (request) =>
    albums.removeFromAlbum(request.params.userId, request.params.albumId, request.body.ids),
  );
}
