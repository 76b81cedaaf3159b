import type { FastifyInstance, FastifyReply } from 'fastify';

import { internalRoutes as routes, MEDIA_HEADERS } from '../../api/internal.js';
import { internalRoute } from '../../http/internal-route.js';
import type { MediaResponse } from '../../modules/images/image.service.js';
import type { Archive, SharingService } from '../../modules/shares/sharing.js';
import { rangeRequest } from '../range-request.js';

/** The headers of a shared variant the storage service sends the gateway: its type, size, ETag and name. */
const storedMediaHeaders = (media: MediaResponse): Record<string, string> => ({
  'content-type': media.contentType,
  'content-length': String(media.length),
  etag: media.etag,
  [MEDIA_HEADERS.totalSize]: String(media.totalSize),
  [MEDIA_HEADERS.filename]: encodeURIComponent(media.filename),
});

export interface ShareRoutesDeps {
  sharing: SharingService;
}

/** The storage service's share links and ZIP downloads, for the gateway. */
export async function storageShareRoutes(app: FastifyInstance, deps: ShareRoutesDeps): Promise<void> {
  const { sharing } = deps;

  internalRoute(app, routes.createShare, async (request, reply) =>
    reply.status(201).send(await sharing.createShare(request.params.userId, request.body)),
  );
  internalRoute(app, routes.listShares, async (request) => sharing.listShares(request.params.userId));
  internalRoute(app, routes.updateShare, async (request) =>
    sharing.updateShare(request.params.userId, request.params.shareId, request.body),
  );
  internalRoute(app, routes.revokeShare, async (request, reply) => {
    await sharing.revokeShare(request.params.userId, request.params.shareId);
    return reply.status(204).send();
  });
  internalRoute(app, routes.viewShare, async (request) => {
    const { limit, cursor, token } = request.query;
    return sharing.viewShare(request.params.key, token, limit, cursor);
  });
  internalRoute(app, routes.unlockShare, async (request) =>
    sharing.unlockShare(request.params.key, request.body.password, request.body.address),
  );

  internalRoute(
    app,
    routes.openShared,
    async (request, reply) => {
      const { key, imageId, variant } = request.params;
      const media = await sharing.openShared(key, imageId, variant, {
        ...request.query,
        ifNoneMatch: request.headers['if-none-match'],
        range: rangeRequest(request.headers.range),
      });
      if (media.notModified) return reply.status(304).header('etag', media.etag).send();
      reply.headers({ ...storedMediaHeaders(media), [MEDIA_HEADERS.servedAs]: media.servedAs });
      if (media.range) {
        reply.status(206).header('content-range', `bytes ${media.range.start}-${media.range.end}/${media.totalSize}`);
      }
      return reply.send(media.body ?? media.stream);
    },
    { logLevel: 'warn' },
  );

  internalRoute(app, routes.archiveImages, async (request, reply) =>
    sendArchive(reply, await sharing.archiveImages(request.params.userId, request.body.ids)),
  );
  internalRoute(app, routes.archiveShared, async (request, reply) =>
    sendArchive(reply, await sharing.archiveShared(request.params.key, request.query)),
  );
}

function sendArchive(reply: FastifyReply, archive: Archive): FastifyReply {
  reply.header('content-type', 'application/zip');
  reply.header(MEDIA_HEADERS.filename, encodeURIComponent(archive.filename));
  if (archive.length !== undefined) reply.header('content-length', String(archive.length));
  return reply.send(archive.stream);
}
