import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

import { droppedLogLines } from '../lib/logger.js';

/** The Prometheus metrics of one process; every service it runs records into the same registry. */
export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'service' | 'method' | 'route' | 'status'>;
  httpDuration: Histogram<'service' | 'method' | 'route' | 'status'>;
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
  const httpLabels = ['service', 'method', 'route', 'status'] as const;
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
    httpRequests: new Counter({
      name: 'pixa_http_requests_total',
      help: 'HTTP requests answered, by service, route pattern and status.',
      labelNames: httpLabels,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'pixa_http_request_duration_seconds',
      help: 'Time from receiving a request to its answer being sent.',
      labelNames: httpLabels,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
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
  app.addHook('onResponse', async (request, reply) => {
    const labels = {
      service,
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
  });
  app.get('/metrics', { schema: { hide: true }, logLevel: 'warn' }, async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
}
