// 2. Serving: thumbnails and previews as a gallery asks for them (signed URL, Bearer token, 200 and
// 304), against nginx serving the same files from Pixa's object directory. The load comes from wrk
// on a core of its own; the client's ceiling on an empty answer is measured first and printed, and a
// ratio whose baseline reaches that ceiling is refused: there the client, not nginx, was measured.
// A bare node:http server answering the same bytes from memory takes its turns too, so a reader sees
// how close Pixa is to Node's own limit next to nginx's (context, not a target).
import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';

import { request } from 'undici';

import { register, upload } from '../lib/client.js';
import { cpuMs } from '../lib/memory.js';
import { CEILING_PATH, startBareNode, startStaticBaseline } from '../lib/static-baseline.js';
import { num, row } from '../lib/stats.js';
import { corePlan, findWrk, runWrk, WRK_MISSING } from '../lib/wrk.js';

const CONNECTIONS = 32;
/** A baseline at this share of the client's ceiling or above measures the client: no ratio. */
const CLIENT_BOUND = 0.8;

/**
 * Quotas on, as shipped, but far out of reach (10 TB a day), so the accounting path is the one
 * measured and no run is cut short by a 429.
 */
const QUOTA_ENV = { PIXA_DAILY_TRANSFER_MB: '10000000', PIXA_STORAGE_QUOTA_MB: '100000' };

export async function serving(ctx) {
  if (!findWrk()) {
    ctx.skip('serving', WRK_MISSING);
    return;
  }
  const rounds = ctx.quick ? 1 : 2;
  const duration = ctx.quick ? 3 : 6;
  const cores = corePlan();
  const others = ctx.compare ?? [];
  const server = await ctx.startPixa('serving', { env: QUOTA_ENV, core: cores.server });
  const compared = [];
  let baseline;
  let bare;
  try {
    for (const [i, root] of others.entries()) {
      compared.push(await ctx.startPixa('serving', { env: QUOTA_ENV, core: cores.server, root, name: `compare-${i}` }));
    }
    const account = await register(server.url);
    const photo = ctx.photos[0];
    const [image] = await upload(server.url, account.token, [{ name: photo.name, data: photo.data }]);
    const bearer = { authorization: `Bearer ${account.token}` };
    const apiPath = (variant) => `/api/v1/images/${image.id}/${variant}`;
    const thumb = await fetchOnce(`${server.url}${apiPath('thumbnail')}`, bearer);
    const preview = await fetchOnce(`${server.url}${apiPath('preview')}`, bearer);

    // The fs store keeps each object as a plain file at <root>/<key>.
    const objectPath = (file) => `/${account.userId}/${image.id}/${file}`;
    baseline = await startStaticBaseline({
      rootDir: path.join(server.dataDir, 'objects'),
      workDir: await mkdtemp(path.join(ctx.tmp, 'static-')),
      probePath: objectPath('thumb.webp'),
      core: cores.server,
    });
    const baseThumb = await fetchOnce(`${baseline.url}${objectPath('thumb.webp')}`, {});
    const basePreview = await fetchOnce(`${baseline.url}${objectPath('preview.webp')}`, {});
    if (!baseThumb.body.equals(thumb.body) || !basePreview.body.equals(preview.body)) {
      throw new Error('the baseline does not serve the same bytes as Pixa');
    }
    // Node's own limit with the same bytes: how close Pixa is to it, beside nginx (context, not a target).
    bare = await startBareNode({
      rootDir: path.join(server.dataDir, 'objects'),
      workDir: await mkdtemp(path.join(ctx.tmp, 'bare-')),
      probePath: objectPath('thumb.webp'),
      core: cores.server,
    });
    const bareThumb = await fetchOnce(`${bare.url}${objectPath('thumb.webp')}`, {});
    if (!bareThumb.body.equals(thumb.body)) throw new Error('bare node:http does not serve the same bytes as Pixa');
    const baseName = baseline.label.split(' ')[0];
    ctx.log(
      `  ${photo.name}: thumbnail ${thumb.body.length} bytes, preview ${preview.body.length} bytes; baseline: ${baseline.label}`,
    );
    ctx.log(`  wrk -t1 -c${CONNECTIONS}, ${cores.label}; ${rounds} round(s) of ${duration} s per case, taking turns`);

    // The other trees serve the same image only if they hold it: upload it there too (ids differ).
    const targetsOf = async (srv) => {
      if (srv === server) return { srv, image, bearer, account };
      const acct = await register(srv.url);
      const [img] = await upload(srv.url, acct.token, [{ name: photo.name, data: photo.data }]);
      return { srv, image: img, bearer: { authorization: `Bearer ${acct.token}` }, account: acct };
    };
    const pixas = [await targetsOf(server)];
    for (const srv of compared) pixas.push(await targetsOf(srv));
    const signed = ({ srv, image: img }, variant) => ({ url: `${srv.url}${img.urls[variant]}`, headers: {} });
    const withBearer = ({ srv, image: img, bearer: b }, variant, extra = {}) => ({
      url: `${srv.url}/api/v1/images/${img.id}/${variant}`,
      headers: { ...b, ...extra },
    });
    const etagOf = (p, variant) => (variant === 'thumbnail' ? `"${p.image.id}-thumbnail"` : `"${p.image.id}-preview"`);
    const baseUrl = (file) => ({ url: `${baseline.url}${objectPath(file)}`, headers: {} });
    const bareUrl = (file, etag) => ({
      url: `${bare.url}${objectPath(file)}`,
      headers: etag ? { 'if-none-match': etag } : {},
    });

    const ceiling = await measure([{ url: `${baseline.url}${CEILING_PATH}`, headers: {} }], [baseline.pid], {
      rounds,
      duration,
      core: cores.client,
    });
    const ceilingRps = ceiling[0].rps;
    ctx.log(`  client ceiling (wrk, empty 204 from ${baseName}): ${describe(ceiling[0], '204')}`);
    ctx.rows.push(
      row(
        'serving',
        `client ceiling: wrk on an empty 204 (${cores.client === undefined ? 'not pinned' : 'pinned'})`,
        '',
        `${baseName}: ${describe(ceiling[0], '204')}`,
        undefined,
        `baselines ≥ ${CLIENT_BOUND}× of it get no ratio`,
      ),
    );

    const cases = [
      {
        name: 'thumbnail 200, signed URL (as <img src>)',
        expected: '200',
        target: 0.5,
        pixa: (p) => signed(p, 'thumbnail'),
        base: { ...baseUrl('thumb.webp') },
        bare: bareUrl('thumb.webp'),
      },
      {
        name: `thumbnail 200, Bearer token`,
        expected: '200',
        target: 0.35,
        pixa: (p) => withBearer(p, 'thumbnail'),
        base: baseUrl('thumb.webp'),
        bare: bareUrl('thumb.webp'),
      },
      {
        name: 'thumbnail 304 (If-None-Match), Bearer token',
        expected: '304',
        target: 0.5,
        pixa: (p) => withBearer(p, 'thumbnail', { 'if-none-match': etagOf(p, 'thumbnail') }),
        base: { url: baseUrl('thumb.webp').url, headers: { 'if-none-match': baseThumb.etag } },
        bare: bareUrl('thumb.webp', bareThumb.etag),
      },
      {
        name: 'thumbnail 304 (If-None-Match), signed URL',
        expected: '304',
        target: 0.5,
        pixa: (p) => ({ ...signed(p, 'thumbnail'), headers: { 'if-none-match': etagOf(p, 'thumbnail') } }),
        base: { url: baseUrl('thumb.webp').url, headers: { 'if-none-match': baseThumb.etag } },
        bare: bareUrl('thumb.webp', bareThumb.etag),
      },
      {
        name: 'preview 200, signed URL (counted against the transfer quota)',
        expected: '200',
        target: 0.2,
        pixa: (p) => signed(p, 'preview'),
        base: baseUrl('preview.webp'),
        bare: bareUrl('preview.webp'),
      },
    ];
    const results = [];
    for (const c of cases) {
      // Check once what each answers, so that a wrong answer is never measured as a fast one.
      for (const p of pixas) await expectStatus(c.pixa(p), c.expected);
      await expectStatus(c.base, c.expected);
      await expectStatus(c.bare, c.expected);
      const targets = [...pixas.map((p) => c.pixa(p)), c.bare, c.base];
      const pids = [...pixas.map((p) => p.srv.pid), bare.pid, baseline.pid];
      const measured = await measure(targets, pids, { rounds, duration, core: cores.client });
      const base = measured.at(-1);
      const bareResult = measured.at(-2);
      const pixaResults = measured.slice(0, -2);
      results.push({ ...c, pixaResults, bareResult, baseResult: base });
      const line = pixaResults
        .map((r, i) => `${i === 0 ? 'Pixa' : `compare ${others[i - 1]}`} ${describe(r, c.expected)}`)
        .join('; ');
      ctx.log(
        `  ${c.name}: ${line}; bare node:http ${describe(bareResult, c.expected)}; ${baseName} ${describe(base, c.expected)}`,
      );
    }
    for (const r of results) {
      const clientBound = r.baseResult.rps >= CLIENT_BOUND * ceilingRps;
      for (const [i, pixa] of r.pixaResults.entries()) {
        const ratio = clientBound ? NaN : pixa.rps / r.baseResult.rps;
        ctx.rows.push(
          row(
            'serving',
            i === 0 ? r.name : `${r.name} [${others[i - 1]}]`,
            describe(pixa, r.expected),
            `${baseName}: ${describe(r.baseResult, r.expected)}${clientBound ? ' · at the client ceiling: no ratio' : ''}`,
            ratio,
            `≥ ${r.target}× req/s`,
            clientBound ? undefined : ratio >= r.target,
          ),
        );
      }
      // Context for the row above, not a target: Node's own rate with the same body, and Pixa's share of it.
      ctx.rows.push(
        row(
          'serving',
          `  bare node:http, same body`,
          `${describe(r.bareResult, r.expected)} · Pixa ${num(r.pixaResults[0].rps / r.bareResult.rps)}× of it`,
          `${baseName}: ${describe(r.baseResult, r.expected)}`,
          clientBound ? NaN : r.bareResult.rps / r.baseResult.rps,
          'context: Node’s own limit',
        ),
      );
    }
    ctx.results.serving = {
      baseline: baseline.label,
      bare: bare.label,
      client: `wrk -t1 -c${CONNECTIONS}`,
      cores: cores.label,
      ceiling: ceiling[0],
      rounds,
      duration,
      cases: results,
    };
  } finally {
    await baseline?.stop();
    await bare?.stop();
    for (const srv of compared) await srv.stop();
    await ctx.stop(server);
  }
}

/**
 * After a 1 s warm-up of each, `rounds` wrk runs of each target, taking turns. Requests/s and latency
 * are the means of the rounds; CPU is each server's own (user + system) per request.
 */
async function measure(targets, pids, { rounds, duration, core }) {
  for (const target of targets) await runWrk({ ...target, connections: CONNECTIONS, duration: 1, core });
  const runs = targets.map(() => []);
  const cpu = targets.map(() => 0);
  for (let i = 0; i < rounds; i++) {
    for (const [t, target] of targets.entries()) {
      const before = cpuMs(pids[t]);
      runs[t].push(await runWrk({ ...target, connections: CONNECTIONS, duration, core }));
      cpu[t] += cpuMs(pids[t]) - before;
    }
  }
  return runs.map((list, t) => summarize(list, cpu[t]));
}

function summarize(runs, cpu) {
  const mean = (f) => runs.reduce((s, r) => s + f(r), 0) / runs.length;
  const total = runs.reduce((s, r) => s + r.total, 0);
  return {
    rps: mean((r) => r.rps),
    p50: mean((r) => r.p50),
    p99: mean((r) => r.p99),
    cpuUsPerRequest: (cpu * 1000) / total,
    badStatus: runs.reduce((s, r) => s + r.badStatus, 0),
    socketErrors: runs.reduce((s, r) => s + r.socketErrors, 0),
    rounds: runs.map((r) => Math.round(r.rps)),
  };
}

function describe(r, expected) {
  const wrong =
    r.badStatus > 0 || r.socketErrors > 0
      ? ` (!! ${r.badStatus} answers not ${expected}, ${r.socketErrors} socket errors)`
      : '';
  return `${num(r.rps)} req/s · p99 ${num(r.p99)} ms · ${num(r.cpuUsPerRequest)} µs CPU/req${wrong}`;
}

async function fetchOnce(url, headers) {
  const response = await request(url, { headers });
  const body = Buffer.from(await response.body.arrayBuffer());
  if (response.statusCode !== 200) throw new Error(`GET ${url} answered ${response.statusCode}`);
  return { body, etag: String(response.headers.etag) };
}

async function expectStatus({ url, headers }, expected) {
  const response = await request(url, { headers });
  await response.body.dump();
  if (String(response.statusCode) !== expected) {
    throw new Error(`GET ${url} answered ${response.statusCode}, not ${expected}`);
  }
}
