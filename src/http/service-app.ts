import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';

import type { Config } from '../config/config.js';
import { newRequestContext, runInRequestContext, type RequestContext } from '../lib/request-context.js';
import { requireInternalToken } from './internal-auth.js';
import { registerMetrics, type Metrics } from './metrics.js';
import { registerProbes, type ReadinessCheck } from './probes.js';
import { createHttpServer } from './server.js';

export interface ServiceAppOptions {
  /** Service name, in every log line and metric of this app. */
  service: string;
  config: Readonly<Config>;
  logger: Logger;
  metrics: Metrics;
  /** What /readyz checks. */
  readiness: Readonly<Record<string, ReadinessCheck>>;
  /** Internal services demand this token on every request but the probes and /metrics. */
  internalToken?: string;
  /** Serve the OpenAPI document (the public gateway does). */
  openapi?: boolean;
}

/**
 * A Fastify instance as every Pixa service runs it: the shared server settings, the request id in
 * an AsyncLocalStorage context (so calls to other services carry it), request metrics, the probes,
 * and for internal services the internal token check.
 */
export async function createServiceApp(options: ServiceAppOptions): Promise<FastifyInstance> {
  const app = await createHttpServer({
    service: options.service,
    logger: options.logger,
    trustProxy: options.config.trustProxy,
    requestTimeoutMs: options.config.requestTimeoutMs,
    openapi: options.openapi,
  });
  installRequestContext(app);
  if (options.internalToken !== undefined) requireInternalToken(app, options.internalToken);
  registerMetrics(app, options.metrics, options.service);
  registerProbes(app, options.readiness);
  return app;
}

/**
 * Enters the request's context in onRequest and again in preValidation: a parsed body arrives on
 * the socket's stream events, outside the context onRequest entered, and the handler runs after it.
 */
function installRequestContext(app: FastifyInstance): void {
  const contexts = new WeakMap<FastifyRequest, RequestContext>();
  const enter = (request: FastifyRequest, _reply: unknown, done: () => void): void => {
    let context = contexts.get(request);
    if (!context) {
      context = newRequestContext(request.id);
      contexts.set(request, context);
    }
    runInRequestContext(context, done);
  };
  app.addHook('onRequest', enter);
  app.addHook('preValidation', enter);
}
