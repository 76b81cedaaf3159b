import type { FastifyInstance } from 'fastify';

import { internalRoutes as routes } from '../../api/internal.js';
import { TUS_CONTENT_TYPE } from '../../api/uploads.js';
import { internalRoute } from '../../http/internal-route.js';
import type { ResumableUploadService } from '../../modules/uploads/resumable-upload.service.js';

/** The storage service's side of resumable uploads: the gateway's tus requests, one internal route each. */
export async function storageUploadRoutes(
  app: FastifyInstance,
  deps: { uploads: ResumableUploadService },
): Promise<void> {
  const { uploads } = deps;
  // A PATCH's bytes are read by the service as they arrive, never parsed or buffered here.
  app.addContentTypeParser(TUS_CONTENT_TYPE, (_request, _payload, done) => done(null));

  internalRoute(app, routes.createUpload, async (request, reply) =>
    reply.status(201).send(await uploads.create(request.params.userId, request.body)),
  );

  internalRoute(app, routes.uploadStatus, async (request) =>
    uploads.status(request.params.userId, request.params.uploadId),
  );

  internalRoute(app, routes.appendUpload, async (request) =>
    uploads.append(request.params.userId, request.params.uploadId, {
      offset: request.query.offset,
      checksum: request.query.checksum,
      body: request.raw,
    }),
  );

  internalRoute(app, routes.terminateUpload, async (request, reply) => {
    await uploads.terminate(request.params.userId, request.params.uploadId);
    return reply.status(204).send();
  });

  internalRoute(app, routes.uploadResult, async (request) =>
    uploads.result(request.params.userId, request.params.uploadId),
  );

  internalRoute(
    app,
    routes.knownHashes,
    async (request) => ({ known: await uploads.knownHashes(request.params.userId, request.body.sha256) }),
    // 5,000 hashes of 64 digits in JSON, as the public route takes them.
    { bodyLimit: 512 * 1024 },
  );
}
