import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Registry } from 'prom-client';

import { droppedLogLines } from '../lib/logger.js';
import { observeFastLanes } from './fast-lane.js';
import { createRequestMetrics, type RequestMetrics } from './request-metrics.js';

/** The Prometheus metrics of one process; every service it runs records into the same registry. */
export interface Metrics {
  registry: Registry;
  /** `pixa_http_requests_total` and `pixa_http_request_duration_seconds`. */
  http: RequestMetrics;
  /** Images received by uploads: `stored` new, or `duplicate` of one already in the account. */
  uploadedImages: Counter<'result'>;
  /** Image bytes received (`in`, uploads) and sent (`out`, originals, previews, thumbnails). */
  imageBytes: Counter<'direction'>;
  quotaRejections: Counter<'quota'>;
  /** Calls to another service that failed to get an answer (refused, reset, timed out) or got a 5xx. */
  internalCallFailures: Counter<'target' | 'reason'>;
}

export interface MetricsOptions {
  /** Also export process metrics (CPU, memory, event loop lag); off in tests that build many apps. */
  processMetrics?: boolean;
}

/** A fresh registry per process (never prom-client's global one, so tests can build many Pixas). */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'pixa_' });
  new Counter({
    name: 'pixa_log_lines_dropped_total',
    help: 'Log lines not written to stdout because its reader was gone or too far behind.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(droppedLogLines());
    },
  });
  return {
    registry,
    http: createRequestMetrics(registry),
    uploadedImages: new Counter({
      name: 'pixa_uploaded_images_total',
      help: 'Images received by uploads.',
      labelNames: ['result'],
      registers: [registry],
    }),
    imageBytes: new Counter({
      name: 'pixa_image_bytes_total',
      help: 'Image bytes received by uploads (in) and sent to viewers (out).',
      labelNames: ['direction'],
      registers: [registry],
    }),
    quotaRejections: new Counter({
      name: 'pixa_quota_rejections_total',
      help: 'Requests refused because a storage or transfer quota was reached.',
      labelNames: ['quota'],
      registers: [registry],
    }),
    internalCallFailures: new Counter({
      name: 'pixa_internal_call_failures_total',
      help: 'Calls from one Pixa service to another that failed.',
      labelNames: ['target', 'reason'],
      registers: [registry],
    }),
  };
}

/**
 * Counts and times every request of `app` under its route pattern (never the raw URL, which holds
 * ids), and serves the registry at `GET /metrics` in Prometheus' text format.
 */
export function registerMetrics(app: FastifyInstance, metrics: Metrics, service: string): void {
  app.addHook('onResponse', (request, reply, done) => {
    metrics.http.record(
      service,
      request.method,
      request.routeOptions.url ?? 'unmatched',
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
    done();
  });
  // Answers of the fast lanes (media-lane.ts) never reach Fastify's hooks: counted the same way.
  observeFastLanes(app.server, (method, answer, seconds) =>
    metrics.http.record(service, method, answer.route, answer.status, seconds),
  );
  app.get('/metrics', { schema: { hide: true }, logLevel: 'warn' }, async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
}
