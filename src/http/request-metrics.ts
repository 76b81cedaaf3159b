import type { Metric, Registry } from 'prom-client';

/** Seconds: the upper bounds of the request duration histogram. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;

interface Cell {
  labels: { service: string; method: string; route: string; status: string };
  count: number;
  sum: number;
  /** Observations per bucket (not cumulative); the last slot is above every bound. */
  buckets: Float64Array;
}

/** Requests answered and their durations, by service, method, route pattern and status. */
export interface RequestMetrics {
  record(service: string, method: string, route: string, status: number, seconds: number): void;
}

/**
 * `pixa_http_requests_total` and `pixa_http_request_duration_seconds`, kept in plain numbers and
 * turned into Prometheus' shape only when scraped. prom-client's own Counter and Histogram hash and
 * validate a label object on every call, which on the media path cost more than the rest of a
 * thumbnail's bookkeeping; here a request finds its cell through nested maps and adds to it.
 */
export function createRequestMetrics(registry: Registry): RequestMetrics {
  /** service → method → route → status → cell: no key is built per request. */
  const cells = new Map<string, Map<string, Map<string, Map<number, Cell>>>>();
  const all: Cell[] = [];

  const child = <K, V>(map: Map<K, V>, key: K, make: () => V): V => {
    let value = map.get(key);
    if (value === undefined) {
      value = make();
      map.set(key, value);
    }
    return value;
  };

  const requests = {
    name: 'pixa_http_requests_total',
    help: 'HTTP requests answered, by service, route pattern and status.',
    type: 'counter',
    aggregator: 'sum',
    get: async () => ({
      name: requests.name,
      help: requests.help,
      type: requests.type,
      aggregator: requests.aggregator,
      values: all.map((cell) => ({ labels: cell.labels, value: cell.count })),
    }),
    reset: () => all.forEach((cell) => clear(cell)),
  };
  const duration = {
    name: 'pixa_http_request_duration_seconds',
    help: 'Time from receiving a request to its answer being sent.',
    type: 'histogram',
    aggregator: 'sum',
    get: async () => ({
      name: duration.name,
      help: duration.help,
      type: duration.type,
      aggregator: duration.aggregator,
      values: all.flatMap((cell) => {
        let cumulative = 0;
        const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
        BUCKETS.forEach((bound, i) => {
          cumulative += cell.buckets[i]!;
          values.push({
            labels: { ...cell.labels, le: bound },
            value: cumulative,
            metricName: `${duration.name}_bucket`,
          });
        });
        values.push(
          { labels: { ...cell.labels, le: '+Inf' }, value: cell.count, metricName: `${duration.name}_bucket` },
          { labels: cell.labels, value: cell.sum, metricName: `${duration.name}_sum` },
          { labels: cell.labels, value: cell.count, metricName: `${duration.name}_count` },
        );
        return values;
      }),
    }),
    reset: () => all.forEach((cell) => clear(cell)),
  };
  // prom-client's registry asks only for these members; it formats what get() returns.
  registry.registerMetric(requests as unknown as Metric);
  registry.registerMetric(duration as unknown as Metric);

  return {
    record(service, method, route, status, seconds) {
      const byStatus = child(
        child(
          child(cells, service, () => new Map()),
          method,
          () => new Map(),
        ),
        route,
        () => new Map<number, Cell>(),
      );
      let cell = byStatus.get(status);
      if (!cell) {
        cell = {
          labels: { service, method, route, status: String(status) },
          count: 0,
          sum: 0,
          buckets: new Float64Array(BUCKETS.length + 1),
        };
        byStatus.set(status, cell);
        all.push(cell);
      }
      cell.count += 1;
      cell.sum += seconds;
      let i = 0;
      while (i < BUCKETS.length && seconds > BUCKETS[i]!) i++;
      cell.buckets[i]! += 1;
    },
  };
}

function clear(cell: Cell): void {
  cell.count = 0;
  cell.sum = 0;
  cell.buckets.fill(0);
}
