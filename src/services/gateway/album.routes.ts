import type { FastifyInstance } from 'fastify';

import {
  AlbumChangesSchema,
  AlbumIdParamsSchema,
  AlbumImagePageSchema,
  AlbumListSchema,
  AlbumSchema,
  NewAlbumSchema,
} from '../../api/albums.js';
import { errors } from '../../api/errors.js';
import { ImageIdsSchema, PageQuerySchema } from '../../api/images.js';
import { principalOf, requireUser } from '../../http/auth-hook.js';
import { typed } from '../../http/typed.js';
import type { GatewayDeps } from './gateway-deps.js';

const IDS_RULE =
  'At most 500 ids; repeated ids count once. If any id is not one of your photos in the gallery, the answer is 404 and nothing changes.';

/** Albums: create, list, rename, choose the cover, delete, and add or remove photos. */
export async function albumRoutes(fastify: FastifyInstance, deps: GatewayDeps): Promise<void> {
  const app = typed(fastify);
  const { services } = deps;
  const preHandler = requireUser(services().auth);
  const tags = ['albums'];

  app.post(
    '/api/v1/albums',
    {
      preHandler,
      schema: {
        tags,
        summary: 'Create an album',
        body: NewAlbumSchema,
        response: { 201: AlbumSchema, ...errors(400, 401) },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await services(request).images.createAlbum(principalOf(request).userId, request.body)),
  );

  app.get(
    '/api/v1/albums',
    {
      preHandler,
      schema: {
        tags,
        summary: 'Your albums, most recent activity first, with count, cover and date range',
        response: { 200: AlbumListSchema, ...errors(401) },
      },
    },
    async (request) => services(request).images.listAlbums(principalOf(request).userId),
  );

  app.get(
    '/api/v1/albums/:id',
    {
      preHandler,
      schema: {
        tags,
        summary: 'One album',
        params: AlbumIdParamsSchema,
        response: { 200: AlbumSchema, ...errors(401, 404) },
      },
    },
    async (request) => services(request).images.getAlbum(principalOf(request).userId, request.params.id),
  );

  app.patch(
    '/api/v1/albums/:id',
    {
      preHandler,
      schema: {
        tags,
        summary: 'Rename an album, describe it or choose its cover (null: the newest photo)',
        params: AlbumIdParamsSchema,
        body: AlbumChangesSchema,
        response: { 200: AlbumSchema, ...errors(400, 401, 404) },
      },
    },
    async (request) =>
      services(request).images.updateAlbum(principalOf(request).userId, request.params.id, request.body),
  );

  app.delete(
    '/api/v1/albums/:id',
    {
      preHandler,
      schema: {
        tags,
        summary: 'Delete an album; its photos stay in the gallery',
        params: AlbumIdParamsSchema,
        response: errors(401, 404),
      },
    },
    async (request, reply) => {
      await services(request).images.deleteAlbum(principalOf(request).userId, request.params.id);
      return reply.status(204).send();
    },
  );

  app.get(
    '/api/v1/albums/:id/images',
    {
      preHandler,
      schema: {
        tags,
        summary: 'An album’s photos, newest taken first, a page at a time (as the gallery)',
        params: AlbumIdParamsSchema,
        querystring: PageQuerySchema,
        response: { 200: AlbumImagePageSchema, ...errors(400, 401, 404) },
      },
    },
    async (request) =>
      services(request).images.listAlbumImages(
        principalOf(request).userId,
        request.params.id,
        request.query.limit,
        request.query.cursor,
      ),
  );

  app.put(
    '/api/v1/albums/:id/images',
    {
      preHandler,
      schema: {
        tags,
        summary: 'Add photos to an album (idempotent)',
        description: IDS_RULE,
        params: AlbumIdParamsSchema,
        body: ImageIdsSchema,
        response: { 200: AlbumSchema, ...errors(400, 401, 404) },
      },
    },
    async (request) =>
      services(request).images.addToAlbum(principalOf(request).userId, request.params.id, request.body.ids),
  );

  app.delete(
    '/api/v1/albums/:id/images',
    {
      preHandler,
      schema: {
        tags,
        summary: 'Remove photos from an album (idempotent; they stay in the gallery)',
        description: IDS_RULE,
        params: AlbumIdParamsSchema,
        body: ImageIdsSchema,
        response: { 200: AlbumSchema, ...errors(400, 401, 404) },
      },
    },
    async (request) =>
      services(request).images.removeFromAlbum(principalOf(request).userId, request.params.id, request.body.ids),
  );
}
