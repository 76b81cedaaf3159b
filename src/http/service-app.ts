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
  /**
   * This app calls other services over HTTP, and those calls should carry the request id. It keeps
   * an AsyncLocalStorage context per request, which costs about a sixth of the CPU of a small
   * request, so only the pod-mode gateway asks for it.
   */
  callsOtherServices?: boolean;
}

/**
 * A Fastify instance as every Pixa service runs it: the shared server settings, the request id in
 * an AsyncLocalStorage context where calls to other services must carry it, request metrics, the probes,
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
  if (options.callsOtherServices) installRequestContext(app);
  closeConnectionsOnShutdown(app);
  closeConnectionsWithUnreadBodies(app);
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

/** How often, while shutting down, connections that have gone idle since are closed. */
const IDLE_SWEEP_MS = 100;

/**
 * Node's server.close() closes the connections idle at that moment; one still busy then stays open
 * on keep-alive after its answer, and close() would wait out the keep-alive timeout. So while
 * closing, answers say `connection: close`, and connections that went idle are closed as they do.
 */
function closeConnectionsOnShutdown(app: FastifyInstance): void {
  let sweeper: NodeJS.Timeout | undefined;
  app.addHook('preClose', async () => {
    sweeper = setInterval(() => app.server.closeIdleConnections(), IDLE_SWEEP_MS);
    sweeper.unref();
  });
  app.addHook('onSend', async (_request, reply) => {
    if (sweeper) reply.header('connection', 'close');
  });
  app.addHook('onClose', async () => clearInterval(sweeper));
}

/**
 * An answer sent before its request's body was read to the end (an upload refused at its size
 * limit) leaves the rest of that body unread on the connection; the socket stays paused, and the
 * client's next request on the kept-alive connection would wait forever. Such answers close the
 * connection, and the rest of the body is read and dropped, so the socket can close cleanly (closing
 * it with data unread would reset it, and the client could lose the answer).
 */
function closeConnectionsWithUnreadBodies(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply) => {
    if (!request.raw.complete) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (request) => {
    if (!request.raw.complete) request.raw.resume();
  });
}
