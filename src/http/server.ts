import { randomUUID } from 'node:crypto';

import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';

import { closeFastLanes, createLaneServer } from './fast-lane.js';
import { installErrorHandler, type ErrorBody } from './error-handler.js';
import { ErrorSchema } from '../api/errors.js';

export interface HttpServerOptions {
  /** Service name, added to every log line. */
  service: string;
  logger: FastifyServerOptions['loggerInstance'];
  trustProxy: boolean;
  requestTimeoutMs: number;
  /** Serve the OpenAPI document and its UI (the public gateway does). */
  openapi?: boolean;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * A Fastify instance with what every Pixa service shares: JSON logs carrying the request id
 * (taken from `x-request-id` when a caller sent a sane one), the one error format, and timeouts
 * that close slow or stalled clients.
 */
export async function createHttpServer(options: HttpServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger,
    trustProxy: options.trustProxy,
    requestTimeout: options.requestTimeoutMs,
    connectionTimeout: options.requestTimeoutMs,
    // Node applies these only when given at creation, and checks them on an interval: without this a
    // client trickling a few bytes a second keeps its upload (and temp file) open indefinitely.
    http: {
      requestTimeout: options.requestTimeoutMs,
      headersTimeout: Math.min(60_000, options.requestTimeoutMs),
      connectionsCheckingInterval: Math.min(30_000, Math.max(1_000, Math.floor(options.requestTimeoutMs / 2))),
    },
    keepAliveTimeout: 72_000,
    // Fastify's own HTTP/1 server, whose requests go through the fast lanes first (fast-lane.ts).
    serverFactory: createLaneServer,
    bodyLimit: 64 * 1024,
    routerOptions: { maxParamLength: 200 },
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false, useDefaults: true } },
    // The router answers these itself, before any hook or error handler: give them the one format.
    frameworkErrors: (error, request, reply) => {
      const body: ErrorBody =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? {
              error: {
                code: 'not_found',
                message: `No such endpoint: ${request.method} ${request.url.split('?')[0]!.slice(0, 100)}…`,
              },
            }
          : { error: { code: 'bad_url', message: 'The URL is malformed.' } };
      (reply as FastifyReply)
        .status(body.error.code === 'not_found' ? 404 : 400)
        .header('cache-control', 'no-store')
        .send(body);
    },
  });
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  // While closing, Fastify answers everything, with the headers that close each connection.
  app.addHook('preClose', async () => closeFastLanes(app.server));
  app.addHook('onSend', async (request, reply) => {
    if (!reply.hasHeader('cache-control') && request.url.startsWith('/api/')) reply.header('cache-control', 'no-store');
    if (!reply.hasHeader('x-content-type-options')) reply.header('x-content-type-options', 'nosniff');
  });
  app.addHook('preValidation', async (request) => {
    // Ajv coerces types so that query strings can carry numbers; a JSON body must not be coerced:
    // `"password": 12345678` is the wrong type, not the string "12345678".
    const schema = request.routeOptions.schema?.body as TSchema | undefined;
    if (schema === undefined || request.body === undefined) return;
    const mistyped = [...Value.Errors(schema, request.body)].find((issue) => issue.keyword === 'type');
    if (mistyped)
      throw Object.assign(new Error(mistyped.message), { validation: [mistyped], validationContext: 'body' });
  });
  app.addSchema(ErrorSchema);
  installErrorHandler(app);

  if (options.openapi) {
    await app.register(swagger, {
      openapi: {
        info: {
          title: 'Pixa API',
          version: '1',
          description:
            'Accounts, images and usage of a Pixa gallery. Errors are always {"error": {"code", "message"}}.',
        },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
        security: [{ bearer: [] }],
      },
    });
    await app.register(swaggerUi, { routePrefix: '/api/docs' });
    app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  }
  return app;
}
