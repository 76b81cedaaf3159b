import { Gauge } from 'prom-client';

import { freeBytes, type WatchedDirs } from '../modules/images/disk-space.js';
import type { Metrics } from './metrics.js';

/**
 * `pixa_disk_free_bytes{dir="data"|"staging"|"objects"}`: free space of the local directories uploads
 * write to, read when /metrics is scraped, so an operator sees a filling disk before uploads get 507.
 */
export function registerDiskMetrics(metrics: Metrics, dirs: WatchedDirs): void {
  if (metrics.registry.getSingleMetric('pixa_disk_free_bytes')) return;
  new Gauge({
    name: 'pixa_disk_free_bytes',
    help: 'Bytes free on the filesystem of each local directory Pixa writes to (data, staging, file store).',
    labelNames: ['dir'],
    registers: [metrics.registry],
    async collect() {
      this.reset();
      for (const [label, dir] of Object.entries(dirs)) {
        const free = await freeBytes(dir).catch(() => undefined);
        if (free !== undefined) this.set({ dir: label }, free);
      }
    },
  });
}
