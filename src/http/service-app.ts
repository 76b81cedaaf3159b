import type { Socket } from 'node:net';

import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

import type { Config } from '../config/config.js';
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
 * A Fastify instance as every Pixa service runs it: the shared server settings, request metrics, the
 * probes, and for internal services the internal token check.
 */
export async function createServiceApp(options: ServiceAppOptions): Promise<FastifyInstance> {
  const app = await createHttpServer({
    service: options.service,
    logger: options.logger,
    trustProxy: options.config.trustProxy,
    requestTimeoutMs: options.config.requestTimeoutMs,
    openapi: options.openapi,
  });
  closeConnectionsOnShutdown(app);
  closeConnectionsWithUnreadBodies(app);
  if (options.internalToken !== undefined) requireInternalToken(app, options.internalToken);
  registerMetrics(app, options.metrics, options.service);
  registerProbes(app, options.readiness);
  return app;
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

/** A refused request's unread body up to this size is read and dropped, and the connection kept. */
const DRAIN_BYTES = 1024 * 1024;
/** How long a connection closed with its request's body unread goes on reading it before it is destroyed. */
const LINGER_MS = 5_000;

/**
 * An answer sent before its request's body was read to the end (an upload refused for its token or
 * at its size limit) leaves the rest of that body on its way. Closing the socket with data unread
 * resets the connection, and the reset can reach the client before it has read the answer: it sees
 * EPIPE or ECONNRESET instead of the 401 or 413. So, as Go's and nginx's servers do:
 *
 * - a body of at most DRAIN_BYTES (by its Content-Length) is read to the end and dropped, and the
 *   connection stays open for the client's next request;
 * - a larger one, or one of unknown length, gets `connection: close`, and the connection closes
 *   lingering: the answer and a FIN go out, the rest of the body is read and dropped until the client
 *   closes its side or LINGER_MS has passed, and only then is the socket destroyed.
 */
function closeConnectionsWithUnreadBodies(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply) => {
    if (request.raw.complete) return;
    // Whatever was reading the body (a multipart parser that gave up) stops holding it back.
    request.raw.unpipe();
    request.raw.resume();
    const length = Number(request.headers['content-length']);
    if (Number.isInteger(length) && length <= DRAIN_BYTES) return;
    reply.header('connection', 'close');
    lingerOnClose(request.raw.socket);
  });
  app.addHook('onResponse', async (request) => {
    if (!request.raw.complete) request.raw.resume();
  });
}

/**
 * Node's server ends a `connection: close` answer with socket.destroySoon(), which destroys the
 * socket as soon as the answer is written; this socket instead half-closes and goes on reading.
 */
function lingerOnClose(socket: Socket): void {
  socket.destroySoon = function lingeringClose(this: Socket) {
    this.end();
    const timer = setTimeout(() => this.destroy(), LINGER_MS);
    timer.unref();
    this.once('close', () => clearTimeout(timer));
    this.once('end', () => this.destroy());
    this.resume();
  };
}
