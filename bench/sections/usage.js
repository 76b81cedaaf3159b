// 4. Usage: GET /api/v1/usage for an account with 100,000 storage events today against one with 10.
import path from 'node:path';

import { register, timedGet } from '../lib/client.js';
import { openPixaDatabase, seedStorageEvents } from '../lib/seed.js';
import { num, percentile, row } from '../lib/stats.js';
import { latency } from './listing.js';

const TARGET = 1.2;

export async function usage(ctx) {
  const server = await ctx.startPixa('usage');
  try {
    const database = await openPixaDatabase(`sqlite://${path.join(server.dataDir, 'pixa.db')}`);
    const busy = await register(server.url, 'busy');
    const quiet = await register(server.url, 'quiet');
    try {
      const start = performance.now();
      await seedStorageEvents(database, busy.userId, 100_000);
      await seedStorageEvents(database, quiet.userId, 10);
      ctx.log(`  seeded 100,010 storage events in ${num((performance.now() - start) / 1000)} s`);
    } finally {
      await database.close();
    }
    const { busyStats, quietStats } = await measureUsage(server.url, busy, quiet, ctx.quick ? 100 : 500);
    const ratio = busyStats.p50 / quietStats.p50;
    ctx.rows.push(
      row(
        'usage',
        'GET /api/v1/usage, 100,000 events today',
        latency(busyStats),
        `10 events: ${latency(quietStats)}`,
        ratio,
        `≤ ${TARGET}× (p50)`,
        ratio <= TARGET,
      ),
    );
    ctx.results.usage = { busy: busyStats, quiet: quietStats };
  } finally {
    await ctx.stop(server);
  }
}

/** Alternates the two accounts request by request, so that background load weighs on both alike. */
export async function measureUsage(baseUrl, busy, quiet, count) {
  const get = (account) => timedGet(baseUrl, '/api/v1/usage', { authorization: `Bearer ${account.token}` });
  for (let i = 0; i < 20; i++) await Promise.all([get(busy), get(quiet)]);
  const busyTimes = [];
  const quietTimes = [];
  for (let i = 0; i < count; i++) {
    busyTimes.push(await get(busy));
    quietTimes.push(await get(quiet));
  }
  const stats = (t) => ({ p50: percentile(t, 50), p99: percentile(t, 99), n: t.length });
  return { busyStats: stats(busyTimes), quietStats: stats(quietTimes) };
}
