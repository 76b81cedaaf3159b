// 6. Modes and backends: ingest and listing on MariaDB/MySQL and PostgreSQL (when their URLs are
// set), on S3 (s3rver) and Azure Blob (Azurite), and in pod mode (five processes), each next to
// embedded mode (SQLite + file store) measured the same way in the same section.
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';

import {
  azureUnavailable,
  createDatabase,
  databaseUnavailable,
  s3Unavailable,
  startAzure,
  startS3,
} from '../lib/backends.js';
import { register, upload } from '../lib/client.js';
import { cpuMs } from '../lib/memory.js';
import { baseEnv, freePort, startProcess } from '../lib/pixa-process.js';
import { ROOT } from '../lib/paths.js';
import { median, ms, num, row, sum } from '../lib/stats.js';
import { corePlan, findWrk, pinProcess, runWrk } from '../lib/wrk.js';
import { latency, measureListing } from './listing.js';

const LISTED = 10_000;
const INTERNAL_SERVICES = ['auth', 'storage', 'storage-monitor', 'usage-monitor'];

export async function backends(ctx) {
  const mysqlUrl = process.env.PIXA_TEST_MYSQL_URL?.trim();
  const postgresUrl = process.env.PIXA_TEST_POSTGRES_URL?.trim();
  const podDatabase = postgresUrl ? ['postgres', postgresUrl] : mysqlUrl ? ['mysql', mysqlUrl] : undefined;
  const configs = [
    { key: 'embedded', name: 'embedded (SQLite + file store)', setup: async () => ({ env: {} }) },
    {
      key: 'mysql',
      name: 'MariaDB/MySQL + file store',
      unavailable: databaseUnavailable('mysql', mysqlUrl),
      setup: () => databaseSetup('mysql', mysqlUrl),
    },
    {
      key: 'postgres',
      name: 'PostgreSQL + file store',
      unavailable: databaseUnavailable('postgres', postgresUrl),
      setup: () => databaseSetup('postgres', postgresUrl),
    },
    { key: 's3', name: 'SQLite + S3 (s3rver)', unavailable: s3Unavailable(), setup: () => startS3(ctx.tmp) },
    {
      key: 'azure',
      name: 'SQLite + Azure Blob (Azurite)',
      unavailable: azureUnavailable(),
      setup: () => startAzure(ctx.tmp),
    },
    {
      key: 'pod',
      name: `pod mode, 5 processes (${podDatabase ? (podDatabase[0] === 'postgres' ? 'PostgreSQL' : 'MariaDB/MySQL') : 'SQLite'} + file store)`,
      pod: true,
      setup: async () => (podDatabase ? databaseSetup(...podDatabase) : { env: {} }),
    },
  ];

  // PIXA_BENCH_BACKENDS=embedded,pod runs only those (keys: embedded, mysql, postgres, s3, azure, pod).
  const only = process.env.PIXA_BENCH_BACKENDS?.split(',').map((key) => key.trim());
  let reference;
  for (const config of configs) {
    if (only && !only.includes(config.key)) continue;
    if (config.unavailable) {
      ctx.skip('backends', `${config.name}: ${config.unavailable}`);
      continue;
    }
    ctx.log(`  ${config.name}`);
    let backend;
    let servers = [];
    try {
      backend = await config.setup();
      servers = config.pod ? await startPod(ctx, backend.env) : [await ctx.startPixa('backends', { env: backend.env })];
      const gateway = servers[0];
      const databaseUrl = backend.env.PIXA_DATABASE_URL ?? `sqlite://${path.join(gateway.dataDir, 'pixa.db')}`;
      const ingest = await ingestPasses(ctx, gateway.url, ctx.quick ? 1 : 3);
      const [listed] = await measureListing(ctx, gateway, databaseUrl, [LISTED], { gallery: false });
      const thumbs = config.pod && findWrk() ? await thumbnailTurns(ctx, gateway, servers.slice(1)) : undefined;
      const result = { ingest, page: listed.page, deep: listed.deep, deepPage: listed.deepPage, thumbs };
      reference ??= result;
      const isReference = result === reference;
      ctx.rows.push(
        row(
          'backends',
          `${config.name}: ingest, 1 client`,
          `${ms(ingest)}/photo`,
          isReference ? '' : `embedded: ${ms(reference.ingest)}/photo`,
          isReference ? undefined : ingest / reference.ingest,
        ),
        row(
          'backends',
          `${config.name}: page of 100 at ${LISTED.toLocaleString('en-US')}`,
          latency(listed.page),
          isReference ? '' : `embedded: ${latency(reference.page)}`,
          isReference ? undefined : listed.page.p50 / reference.page.p50,
          config.pod && !isReference ? '≤ 1.5× (pod)' : '',
        ),
      );
      if (listed.deep && reference.deep) {
        ctx.rows.push(
          row(
            'backends',
            `${config.name}: page ${listed.deepPage} (cursor) at ${LISTED.toLocaleString('en-US')}`,
            latency(listed.deep),
            isReference ? '' : `embedded: ${latency(reference.deep)}`,
            isReference ? undefined : listed.deep.p50 / reference.deep.p50,
          ),
        );
      }
      if (thumbs) {
        const perRequest = (figures) => `${num(figures.rps)} req/s · ${num(figures.cpuUsPerRequest)} µs CPU/req`;
        ctx.rows.push(
          row(
            'backends',
            `${config.name}: signed thumbnails, wrk -c32, server on core ${thumbs.serverCore ?? '(any)'}`,
            `${perRequest(thumbs.pod)} · other services ${num(thumbs.pod.othersCpuMs)} ms CPU`,
            `embedded, taking turns: ${perRequest(thumbs.reference)}`,
            thumbs.reference.rps / thumbs.pod.rps,
            'time per request, ≤ 1.2× (pod)',
          ),
        );
      }
      (ctx.results.backends ??= {})[config.name] = result;
    } catch (error) {
      const reason = String(error.message ?? error)
        .split('\n')[0]
        .slice(0, 120);
      if (config.pod) ctx.skip('backends', `${config.name}: did not start or answer (${reason})`);
      else ctx.rows.push(row('backends', `${config.name}: failed: ${reason}`, ''));
      ctx.log(`  ${error.stack ?? error}`);
    } finally {
      for (const server of servers) await ctx.stop(server);
      await backend?.stop?.();
      await backend?.drop?.();
    }
  }
}

const THUMBNAIL_TURNS = 3;

/**
 * Signed thumbnails through a pod's gateway against an embedded server started beside it, taking
 * turns (embedded, pod, three times; medians), so that both are measured under the same conditions
 * of this shared machine. wrk, 32 connections, has core 0 and each serving process core 1, as in the
 * serving section: what is compared is that process's own work (CPU time per request from /proc).
 * The pod's other four processes stay unpinned; they are idle while thumbnails are served (a
 * thumbnail needs no other service), and their CPU time over the pod's turns is reported.
 */
async function thumbnailTurns(ctx, gateway, others) {
  const cores = corePlan();
  const embedded = await ctx.startPixa('backends', { name: 'embedded-reference' });
  try {
    const targets = [];
    for (const server of [embedded, gateway]) {
      const account = await register(server.url);
      const [image] = await upload(server.url, account.token, [{ name: ctx.photos[0].name, data: ctx.photos[0].data }]);
      pinProcess(server.pid, cores.server);
      const target = { url: `${server.url}${image.urls.thumbnail}`, connections: 32, core: cores.client };
      await runWrk({ ...target, duration: 1 });
      targets.push({ server, target, rps: [], cpu: [] });
    }
    let othersCpuMs = 0;
    for (let turn = 0; turn < THUMBNAIL_TURNS; turn++) {
      for (const entry of targets) {
        const cpuBefore = cpuMs(entry.server.pid);
        const othersBefore = entry.server === gateway ? sum(others.map((proc) => cpuMs(proc.pid))) : 0;
        const result = await runWrk({ ...entry.target, duration: ctx.quick ? 2 : 4 });
        if (result.badStatus > 0) throw new Error(`thumbnails answered ${result.badStatus} errors`);
        entry.rps.push(result.rps);
        entry.cpu.push(((cpuMs(entry.server.pid) - cpuBefore) * 1000) / result.total);
        if (entry.server === gateway) othersCpuMs += sum(others.map((proc) => cpuMs(proc.pid))) - othersBefore;
      }
    }
    const [reference, pod] = targets.map((entry) => ({ rps: median(entry.rps), cpuUsPerRequest: median(entry.cpu) }));
    return { reference, pod: { ...pod, othersCpuMs }, serverCore: cores.server };
  } finally {
    await ctx.stop(embedded);
  }
}

async function databaseSetup(dialect, serverUrl) {
  const database = await createDatabase(dialect, serverUrl);
  return { env: { PIXA_DATABASE_URL: database.url }, drop: database.drop };
}

/**
 * Uploads every photo once per pass, one request at a time, after one untimed pass; returns the sum
 * of each photo's median time divided by the number of photos (robust to the odd slow request).
 */
async function ingestPasses(ctx, url, passes) {
  const times = new Map(ctx.photos.map((p) => [p.name, []]));
  for (let pass = -1; pass < passes; pass++) {
    const account = await register(url);
    for (const photo of ctx.photos) {
      const start = performance.now();
      await upload(url, account.token, [{ name: photo.name, data: photo.data }]);
      if (pass >= 0) times.get(photo.name).push(performance.now() - start);
    }
  }
  return sum([...times.values()].map((t) => median(t))) / ctx.photos.length;
}

/**
 * Pod mode as the Kubernetes pod runs it: each internal service in its own process on its own
 * 127.0.0.1 port, then the gateway, all sharing one database and one object store. Returns the
 * gateway first.
 */
async function startPod(ctx, env) {
  const shared = await mkdtemp(path.join(ctx.tmp, 'pod-'));
  const ports = {};
  for (const service of INTERNAL_SERVICES) ports[service] = await freePort();
  const podEnv = {
    PIXA_MODE: 'pod',
    PIXA_AUTH_SECRET_KEY: randomBytes(32).toString('base64url'),
    PIXA_INTERNAL_TOKEN: randomBytes(32).toString('base64url'),
    PIXA_AUTH_PORT: String(ports.auth),
    PIXA_STORAGE_PORT: String(ports.storage),
    PIXA_STORAGE_MONITOR_PORT: String(ports['storage-monitor']),
    PIXA_USAGE_MONITOR_PORT: String(ports['usage-monitor']),
    PIXA_DATABASE_URL: `sqlite://${path.join(shared, 'pixa.db')}`,
    PIXA_STORAGE_URL: `file://${path.join(shared, 'objects')}`,
    ...(ctx.logLevel ? { PIXA_LOG_LEVEL: ctx.logLevel } : {}),
    ...env,
  };
  const started = [];
  try {
    for (const service of INTERNAL_SERVICES) {
      const dataDir = await mkdtemp(path.join(shared, `${service}-`));
      started.push(
        await startProcess({
          name: `pod-${service}`,
          args: [path.join(ROOT, 'bin', 'pixa.js'), 'serve', '--services', service],
          env: { ...baseEnv(dataDir, 0), ...podEnv, PIXA_SERVICES: service },
          dataDir,
          readyUrl: `tcp://127.0.0.1:${ports[service]}`,
        }),
      );
    }
    const gateway = await ctx.startPixa('backends', {
      name: 'pod-gateway',
      env: { ...podEnv, PIXA_SERVICES: 'gateway' },
      args: ['--services', 'gateway'],
    });
    return [gateway, ...started];
  } catch (error) {
    for (const proc of started) await proc.stop();
    throw error;
  }
}
