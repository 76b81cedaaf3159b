import type { FastifyInstance, FastifyReply, FastifyRequest, LogLevel, RouteHandlerMethod } from 'fastify';

import type { InternalRoute, RoutePart } from '../api/internal.js';

/** A request to an internal route, typed from the route's declaration in the contract. */
export type InternalRequest<R extends InternalRoute> = FastifyRequest<{
  Params: RoutePart<R, 'params'>;
  Querystring: RoutePart<R, 'querystring'>;
  Body: RoutePart<R, 'body'>;
}>;

export type InternalHandler<R extends InternalRoute> = (
  request: InternalRequest<R>,
  reply: FastifyReply,
) => Promise<RoutePart<R, 'response'> | FastifyReply>;

/**
 * Registers the handler of one internal route from its declaration in `src/api/internal.ts`: method,
 * URL, request schemas and the response schema of its success status come from there, so the
 * service and the client that calls it cannot disagree on a field.
 */
export function internalRoute<R extends InternalRoute>(
  app: FastifyInstance,
  route: R,
  handler: InternalHandler<R>,
  options: { logLevel?: LogLevel; bodyLimit?: number } = {},
): void {
  app.route({
    method: route.method,
    url: route.url,
    ...options,
    schema: {
      params: route.params,
      querystring: route.querystring,
      body: route.body,
      response: route.stream ? undefined : { [route.status]: route.response },
    },
    // The request's type is the route's declaration, which Fastify validated against just above.
    handler: handler as unknown as RouteHandlerMethod,
  });
}
