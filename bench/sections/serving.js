// 2. Serving: authenticated thumbnail requests with 32 connections, and the 304 (If-None-Match) path,
// against nginx serving the same file from Pixa's object directory.
import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';

import { request } from 'undici';

import { load, register, upload } from '../lib/client.js';
import { startStaticBaseline } from '../lib/static-baseline.js';
import { num, row } from '../lib/stats.js';

const CONNECTIONS = 32;
const TARGET = 0.5;

export async function serving(ctx) {
  const duration = ctx.quick ? 3 : 10;
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
    ctx.log(`  thumbnail of ${photo.name}: ${pixaFirst.body.length} bytes; baseline: ${baseline.label}`);

    const run = async (url, headers) => {
      await load({ url, headers, connections: CONNECTIONS, duration: 1 }); // warm-up
      return load({ url, headers, connections: CONNECTIONS, duration });
    };
    const base200 = await run(baseUrl, {});
    const pixa200 = await run(pixaUrl, bearer);
    const base304 = await run(baseUrl, { 'if-none-match': baseFirst.etag });
    const pixa304 = await run(pixaUrl, { ...bearer, 'if-none-match': pixaFirst.etag });
    const pixaSigned = await run(`${server.url}${image.urls.thumbnail}`, {});

    const describe = (r, expected) => {
      const other = Object.entries(r.statuses).filter(([code]) => code !== expected);
      const wrong = other.length > 0 || r.errors > 0 ? ` (!! ${JSON.stringify(r.statuses)}, ${r.errors} errors)` : '';
      return `${num(r.rps)} req/s · p50 ${r.p50} ms · p99 ${r.p99} ms${wrong}`;
    };
    const add = (name, pixa, base, expected) => {
      const ratio = pixa.rps / base.rps;
      ctx.rows.push(
        row(
          'serving',
          name,
          describe(pixa, expected),
          `${baseline.label.split(' ')[0]}: ${describe(base, expected)}`,
          ratio,
          `≥ ${TARGET}× req/s`,
          ratio >= TARGET,
        ),
      );
    };
    add(`thumbnail 200, Bearer token, ${CONNECTIONS} connections`, pixa200, base200, '200');
    add('thumbnail 304 (If-None-Match), Bearer token', pixa304, base304, '304');
    add('thumbnail 200, signed URL (as <img src>)', pixaSigned, base200, '200');
    ctx.results.serving = { pixa200, base200, pixa304, base304, pixaSigned, baseline: baseline.label, duration };
  } finally {
    await baseline?.stop();
    await ctx.stop(server);
  }
}

async function fetchOnce(url, headers) {
  const response = await request(url, { headers });
  const body = Buffer.from(await response.body.arrayBuffer());
  if (response.statusCode !== 200) throw new Error(`GET ${url} answered ${response.statusCode}`);
  return { body, etag: String(response.headers.etag) };
}
