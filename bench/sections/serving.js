// 2. Serving: authenticated thumbnail requests with 32 connections, and the 304 (If-None-Match) path,
// against nginx serving the same file from Pixa's object directory.
import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';

import { request } from 'undici';

import { load, register, upload } from '../lib/client.js';
import { cpuMs } from '../lib/memory.js';
import { startStaticBaseline } from '../lib/static-baseline.js';
import { num, row } from '../lib/stats.js';

const CONNECTIONS = 32;
const TARGET = 0.5;

export async function serving(ctx) {
  const rounds = ctx.quick ? 1 : 2;
  const duration = ctx.quick ? 3 : 6;
  const server = await ctx.startPixa('serving');
  let baseline;
  try {
    const account = await register(server.url);
    const photo = ctx.photos[0];
    const [image] = await upload(server.url, account.token, [{ name: photo.name, data: photo.data }]);
    const pixaUrl = `${server.url}/api/v1/images/${image.id}/thumbnail`;
    const bearer = { authorization: `Bearer ${account.token}` };
    const pixaFirst = await fetchOnce(pixaUrl, bearer);

    // The fs store keeps each object as a plain file at <root>/<key>.
    const objectPath = `/${account.userId}/${image.id}/thumb.webp`;
    baseline = await startStaticBaseline({
      rootDir: path.join(server.dataDir, 'objects'),
      workDir: await mkdtemp(path.join(ctx.tmp, 'static-')),
      probePath: objectPath,
    });
    const baseUrl = `${baseline.url}${objectPath}`;
    const baseFirst = await fetchOnce(baseUrl, {});
    if (!baseFirst.body.equals(pixaFirst.body)) throw new Error('the baseline does not serve the same thumbnail bytes');
    const baseName = baseline.label.split(' ')[0];
    ctx.log(`  thumbnail of ${photo.name}: ${pixaFirst.body.length} bytes; baseline: ${baseline.label}`);
    ctx.log(`  ${rounds} round(s) of ${duration} s per case, Pixa and ${baseName} taking turns`);

    const cases = [
      {
        name: `thumbnail 200, Bearer token, ${CONNECTIONS} connections`,
        expected: '200',
        pixa: { url: pixaUrl, headers: bearer },
        base: { url: baseUrl, headers: {} },
      },
      {
        name: 'thumbnail 304 (If-None-Match), Bearer token',
        expected: '304',
        pixa: { url: pixaUrl, headers: { ...bearer, 'if-none-match': pixaFirst.etag } },
        base: { url: baseUrl, headers: { 'if-none-match': baseFirst.etag } },
      },
      {
        name: 'thumbnail 200, signed URL (as <img src>)',
        expected: '200',
        pixa: { url: `${server.url}${image.urls.thumbnail}`, headers: {} },
        base: { url: baseUrl, headers: {} },
      },
    ];
    const results = [];
    for (const c of cases) {
      const [pixa, base] = await measurePair([c.pixa, server.pid], [c.base, baseline.pid], rounds, duration);
      results.push({ ...c, pixaResult: pixa, baseResult: base });
      ctx.log(`  ${c.name}: Pixa ${describe(pixa, c.expected)}; ${baseName} ${describe(base, c.expected)}`);
    }
    for (const r of results) {
      const ratio = r.pixaResult.rps / r.baseResult.rps;
      ctx.rows.push(
        row(
          'serving',
          r.name,
          describe(r.pixaResult, r.expected),
          `${baseName}: ${describe(r.baseResult, r.expected)}`,
          ratio,
          `≥ ${TARGET}× req/s`,
          ratio >= TARGET,
        ),
      );
    }
    ctx.results.serving = { baseline: baseline.label, rounds, duration, cases: results };
  } finally {
    await baseline?.stop();
    await ctx.stop(server);
  }
}

/**
 * After a 1 s warm-up of each, `rounds` autocannon runs of each target, taking turns. Requests/s and
 * latency are the means of the rounds; CPU is each server's own (user + system) per request.
 */
async function measurePair(first, second, rounds, duration) {
  const targets = [first, second];
  for (const [target] of targets) await load({ ...target, connections: CONNECTIONS, duration: 1 });
  const runs = targets.map(() => []);
  const cpu = targets.map(() => 0);
  for (let i = 0; i < rounds; i++) {
    for (const [t, [target, pid]] of targets.entries()) {
      const before = cpuMs(pid);
      runs[t].push(await load({ ...target, connections: CONNECTIONS, duration }));
      cpu[t] += cpuMs(pid) - before;
    }
  }
  return runs.map((list, t) => summarize(list, cpu[t]));
}

function summarize(runs, cpu) {
  const mean = (f) => runs.reduce((s, r) => s + f(r), 0) / runs.length;
  const statuses = {};
  for (const r of runs) for (const [code, n] of Object.entries(r.statuses)) statuses[code] = (statuses[code] ?? 0) + n;
  const total = runs.reduce((s, r) => s + r.total, 0);
  return {
    rps: mean((r) => r.rps),
    p50: mean((r) => r.p50),
    p99: mean((r) => r.p99),
    cpuUsPerRequest: (cpu * 1000) / total,
    errors: runs.reduce((s, r) => s + r.errors, 0),
    statuses,
    rounds: runs.map((r) => Math.round(r.rps)),
  };
}

function describe(r, expected) {
  const other = Object.entries(r.statuses).filter(([code]) => code !== expected);
  const wrong = other.length > 0 || r.errors > 0 ? ` (!! ${JSON.stringify(r.statuses)}, ${r.errors} errors)` : '';
  return `${num(r.rps)} req/s · p99 ${num(r.p99)} ms · ${num(r.cpuUsPerRequest)} µs CPU/req${wrong}`;
}

async function fetchOnce(url, headers) {
  const response = await request(url, { headers });
  const body = Buffer.from(await response.body.arrayBuffer());
  if (response.statusCode !== 200) throw new Error(`GET ${url} answered ${response.statusCode}`);
  return { body, etag: String(response.headers.etag) };
}
