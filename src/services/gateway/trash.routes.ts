import type { FastifyInstance } from 'fastify';

import { errors } from '../../api/errors.js';
import { ImageIdParamsSchema, ImageIdsSchema, PageQuerySchema } from '../../api/images.js';
import { EmptiedSchema, RestoredSchema, TrashPageSchema } from '../../api/trash.js';
import { principalOf, requireUser } from '../../http/auth-hook.js';
import { typed } from '../../http/typed.js';
import type { GatewayDeps } from './gateway-deps.js';

/** The trash: what DELETE /api/v1/images/:id moved there, restored or deleted for good. */
export async function trashRoutes(fastify: FastifyInstance, deps: GatewayDeps): Promise<void> {
  const app = typed(fastify);
  const { services } = deps;
  const preHandler = requireUser(services().auth);
  const tags = ['trash'];

  app.get(
    '/api/v1/trash',
    {
      preHandler,
      schema: {
        tags,
        summary: 'Photos in the trash, most recently deleted first, each with when it will be purged',
        querystring: PageQuerySchema,
        response: { 200: TrashPageSchema, ...errors(400, 401) },
      },
    },
    async (request) =>
      services(request).images.listTrash(principalOf(request).userId, request.query.limit, request.query.cursor),
  );

  app.post(
    '/api/v1/trash/restore',
    {
      preHandler,
      schema: {
        tags,
        summary: 'Bring photos back to the gallery and their albums',
        description:
          'At most 500 ids; a photo already in the gallery is left as it is. If any id is not one of your photos, the answer is 404 and nothing changes.',
        body: ImageIdsSchema,
        response: { 200: RestoredSchema, ...errors(400, 401, 404) },
      },
    },
    async (request) => services(request).images.restore(principalOf(request).userId, request.body.ids),
  );

  app.post(
    '/api/v1/trash/empty',
    {
      preHandler,
      schema: {
        tags,
        summary: 'Delete every photo in the trash for good; their storage is freed',
        response: { 200: EmptiedSchema, ...errors(401) },
      },
    },
    async (request) => services(request).images.emptyTrash(principalOf(request).userId),
  );

  app.delete(
    '/api/v1/trash/:id',
    {
      preHandler,
      schema: {
        tags,
        summary: 'Delete one photo in the trash for good; its storage is freed',
        params: ImageIdParamsSchema,
        response: errors(401, 404),
      },
    },
    async (request, reply) => {
      await services(request).images.deleteForGood(principalOf(request).userId, request.params.id);
      return reply.status(204).send();
    },
  );
}
