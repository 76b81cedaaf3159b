// 3. Listing: a page of 100 images at 1,000 / 10,000 / 100,000 images in one account, the first page
// and one in the middle (keyset cursor), and the first load of the web gallery. The baseline column
// is the same page query run in process through the repository, without HTTP. Then an album of
// 100,000 photos: its first, middle and last pages beside the gallery's same pages, in the same run.
import path from 'node:path';

import { CompiledQuery } from 'kysely';

import { json, register, timedGet, timeLoop } from '../lib/client.js';
import { dist } from '../lib/paths.js';
import { openPixaDatabase, seedAlbum, seedImages } from '../lib/seed.js';
import { ms, num, percentile, row } from '../lib/stats.js';

const PAGE = 100;
const TARGET = 1.5;

export async function listing(ctx) {
  const server = await ctx.startPixa('listing');
  try {
    const sizes = [1_000, 10_000, 100_000];
    const measured = await measureListing(ctx, server, `sqlite://${path.join(server.dataDir, 'pixa.db')}`, sizes, {
      album: true,
    });
    const first = measured[0];
    for (const m of measured) {
      const ratio = m.page.p50 / first.page.p50;
      ctx.rows.push(
        row(
          'listing',
          `page of ${PAGE}, ${m.size.toLocaleString('en-US')} images: first page`,
          latency(m.page),
          `query alone: ${latency(m.query)}`,
          ratio,
          m === first ? 'basis' : `≤ ${TARGET}× of 1k (p50)`,
          m === first ? undefined : ratio <= TARGET,
        ),
      );
    }
    for (const m of measured) {
      if (!m.deep) continue;
      const ratio = m.deep.p50 / first.deep.p50;
      ctx.rows.push(
        row(
          'listing',
          `  page ${m.deepPage} of ${m.size / PAGE} (cursor), ${m.size.toLocaleString('en-US')} images`,
          latency(m.deep),
          `query alone: ${latency(m.deepQuery)}`,
          ratio,
          m === first ? 'basis' : `≤ ${TARGET}× of 1k (p50)`,
          m === first ? undefined : ratio <= TARGET,
        ),
      );
    }
    for (const m of measured) {
      if (!m.gallery) continue;
      const ratio = m.gallery.p50 / first.gallery.p50;
      ctx.rows.push(
        row(
          'listing',
          `web gallery first load, ${m.size.toLocaleString('en-US')} images`,
          latency(m.gallery),
          m.galleryNote,
          ratio,
          m === first ? 'basis' : `≤ ${TARGET}× of 1k (p50)`,
          m === first ? undefined : ratio <= TARGET,
        ),
      );
    }
    const album = measured.find((m) => m.album)?.album;
    for (const position of album?.positions ?? []) {
      const ratio = position.album.p50 / position.gallery.p50;
      ctx.rows.push(
        row(
          'listing',
          `album of ${album.size.toLocaleString('en-US')}: ${position.name} page (${position.page} of ${album.size / PAGE})`,
          latency(position.album),
          `gallery, same page: ${latency(position.gallery)}`,
          ratio,
          `≤ ${TARGET}× of the gallery (p50)`,
          ratio <= TARGET,
        ),
      );
    }
    ctx.results.listing = measured;
  } finally {
    await ctx.stop(server);
  }
}

export const latency = (s) => `p50 ${ms(s.p50)} · p99 ${ms(s.p99)}`;

const stats = (times) => ({ p50: percentile(times, 50), p99: percentile(times, 99), n: times.length });

/**
 * Seeds one account per size and times, one request at a time: the first page, a page in the middle
 * of the gallery, the same queries in process, and (when the web UI is built) the gallery's first load.
 */
export async function measureListing(ctx, server, databaseUrl, sizes, { gallery = true, album = false } = {}) {
  const count = ctx.quick ? 60 : 300;
  const database = await openPixaDatabase(databaseUrl);
  const { listPage } = await import(dist('modules/images/image.repository.js'));
  const largest = Math.max(...sizes);
  const out = [];
  try {
    const accounts = [];
    for (const size of sizes) {
      const account = await register(server.url, `list${size}`);
      const start = performance.now();
      const keys = await seedImages(database, account.userId, size);
      ctx.log(`  seeded ${size.toLocaleString('en-US')} images in ${num((performance.now() - start) / 1000)} s`);
      accounts.push({ size, account, keys });
    }
    for (const { size, account, keys } of accounts) {
      const auth = { authorization: `Bearer ${account.token}` };
      const m = { size };
      m.page = stats(await timeLoop(() => timedGet(server.url, `/api/v1/images?limit=${PAGE}`, auth), count));
      m.query = stats(await timeLoop(() => listPage(database.db, account.userId, PAGE + 1, undefined), count));
      // The cursor of the row just before the middle page, as the API would have handed it out.
      const middle = Math.floor(size / PAGE / 2);
      const key = keys[middle * PAGE - 1];
      const cursor = Buffer.from(`${key.takenAt}.${key.id}`).toString('base64url');
      try {
        await timedGet(server.url, `/api/v1/images?limit=${PAGE}&cursor=${cursor}`, auth);
        m.deepPage = middle + 1;
        m.deep = stats(
          await timeLoop(() => timedGet(server.url, `/api/v1/images?limit=${PAGE}&cursor=${cursor}`, auth), count),
        );
        m.deepQuery = stats(await timeLoop(() => listPage(database.db, account.userId, PAGE + 1, key), count));
      } catch (error) {
        ctx.log(`  deep page skipped: the cursor format changed (${String(error.message).split('\n')[0]})`);
      }
      if (gallery) Object.assign(m, await measureGallery(server.url, auth, Math.ceil(count / 3)));
      if (album && size === largest) m.album = await measureAlbum(ctx, server, database, account, keys, count);
      out.push(m);
      ctx.log(`  ${size.toLocaleString('en-US')}: first page ${latency(m.page)}; query ${latency(m.query)}`);
    }
  } finally {
    await database.close();
  }
  return out;
}

/**
 * Puts every photo of the account (`keys`, newest first) into one album, rows seeded like the images,
 * then times the album's first, middle and last keyset pages, each request followed by the gallery's
 * page at the same position (the same rows, since the album holds them all). Logs the album query's plan.
 */
async function measureAlbum(ctx, server, database, account, keys, count) {
  const { listAlbumPage } = await import(dist('modules/albums/album.repository.js'));
  const auth = { authorization: `Bearer ${account.token}` };
  const created = await json(server.url, 'POST', '/api/v1/albums', {
    token: account.token,
    body: { title: `${keys.length} photos` },
  });
  const start = performance.now();
  await seedAlbum(database, created.id, keys);
  ctx.log(
    `  seeded an album of ${keys.length.toLocaleString('en-US')} photos in ${num((performance.now() - start) / 1000)} s`,
  );
  const pages = Math.ceil(keys.length / PAGE);
  const positions = [
    { name: 'first', page: 1 },
    { name: 'middle', page: Math.floor(pages / 2) + 1 },
    { name: 'last', page: pages },
  ];
  for (const position of positions) {
    // The cursor of the row just before the page, as the API would have handed it out.
    const key = position.page > 1 ? keys[(position.page - 1) * PAGE - 1] : undefined;
    const query = key ? `&cursor=${Buffer.from(`${key.takenAt}.${key.id}`).toString('base64url')}` : '';
    const albumPath = `/api/v1/albums/${created.id}/images?limit=${PAGE}${query}`;
    const galleryPath = `/api/v1/images?limit=${PAGE}${query}`;
    // Alternated request by request, so that both see the same load from whatever else the machine runs.
    const albumTimes = [];
    const galleryTimes = [];
    await timeLoop(async () => {
      albumTimes.push(await timedGet(server.url, albumPath, auth));
      galleryTimes.push(await timedGet(server.url, galleryPath, auth));
    }, count);
    position.album = stats(albumTimes.slice(-count));
    position.gallery = stats(galleryTimes.slice(-count));
    position.albumQuery = stats(await timeLoop(() => listAlbumPage(database.db, created.id, PAGE + 1, key), count));
    ctx.log(
      `  album ${position.name} page: ${latency(position.album)}; gallery ${latency(position.gallery)}; ` +
        `album query alone ${latency(position.albumQuery)}`,
    );
    if (position.name === 'last') {
      for (const line of await queryPlan(database, (db) => listAlbumPage(db, created.id, PAGE + 1, key))) {
        ctx.log(`    plan: ${line}`);
      }
    }
  }
  return { size: keys.length, positions };
}

/**
 * SQLite's plan of the one query that `run` makes (EXPLAIN QUERY PLAN), read by capturing the query
 * Kysely builds rather than restating its SQL here. Other dialects: nothing (their plans read differently).
 */
async function queryPlan(database, run) {
  if (database.dialect !== 'sqlite') return [];
  let captured;
  const capture = database.db.withPlugin({
    transformQuery: (args) => {
      captured ??= args;
      return args.node;
    },
    transformResult: async (args) => args.result,
  });
  await run(capture);
  const compiled = database.db.getExecutor().compileQuery(captured.node, captured.queryId);
  const plan = await database.db.executeQuery(
    CompiledQuery.raw(`explain query plan ${compiled.sql}`, [...compiled.parameters]),
  );
  return plan.rows.map((step) => step.detail);
}

/**
 * The web gallery's first load as a browser makes it: index.html, then its script and stylesheet, then
 * the three API calls the app starts with (who am I, the first 60 photos, usage), each stage in parallel.
 */
async function measureGallery(baseUrl, auth, count) {
  const index = await fetchText(baseUrl, '/');
  const assets = index.ok ? [...index.text.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]) : [];
  const api = ['/api/v1/me', '/api/v1/images?limit=60', '/api/v1/usage'];
  const times = await timeLoop(async () => {
    if (index.ok) {
      await timedGet(baseUrl, '/');
      await Promise.all(assets.map((asset) => timedGet(baseUrl, asset)));
    }
    await Promise.all(api.map((p) => timedGet(baseUrl, p, auth)));
  }, count);
  return {
    gallery: stats(times),
    galleryNote: index.ok
      ? `index.html + ${assets.length} assets + 3 API calls`
      : 'API calls only (web UI not built: npm run build:web)',
  };
}

async function fetchText(baseUrl, path) {
  const response = await fetch(new URL(path, baseUrl));
  return { ok: response.ok, text: await response.text() };
}
