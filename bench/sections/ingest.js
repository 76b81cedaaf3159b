// 1. Ingest: photos uploaded through the HTTP API (stage + hash, probe, both derivatives, store,
// DB row) against the bare sharp pipeline making the same derivatives from the same files in this
// process, with no HTTP and no database.
import { register, upload } from '../lib/client.js';
import { dist } from '../lib/paths.js';
import { median, mb, ms, num, row, sum } from '../lib/stats.js';

const MAX_PIXELS = 100_000_000;
const TARGET = 1.3;

export async function ingest(ctx) {
  const { photos, log } = ctx;
  const passes = ctx.quick ? 1 : 5;
  const setBytes = sum(photos.map((p) => p.bytes));
  log(`  ${photos.length} photos, ${mb(setBytes)} a pass, ${passes} timed pass(es) per case`);

  const { makeDerivatives, probeImage } = await import(dist('image/image-processor.js'));
  const bareOne = async (photo) => {
    await probeImage(photo.file, MAX_PIXELS);
    await makeDerivatives(photo.file, MAX_PIXELS);
  };

  const server = await ctx.startPixa('ingest');
  try {
    const pixaOne = (account) => (photo) => upload(server.url, account.token, [photo]);
    // Warm-up: JIT, sharp's first use, SQLite pages, the file store's directories.
    await onePass(photos, bareOne);
    await onePass(photos, pixaOne(await register(server.url)));

    // Bare and Pixa take turns, photo by photo (one client) or pass by pass (two), so that whatever
    // else the machine is doing weighs on both alike.
    const one = { bare: newTally(), pixa: newTally() };
    for (let pass = 0; pass < passes; pass++) {
      const account = await register(server.url);
      for (const photo of photos) {
        await timed(one.bare, 1, [[photo]], () => bareOne);
        await timed(one.pixa, 1, [[photo]], () => pixaOne(account));
      }
    }
    const two = { bare: newTally(), pixa: newTally() };
    const orders = [photos, rotate(photos, Math.floor(photos.length / 2))];
    for (let pass = 0; pass < passes; pass++) {
      const accounts = await Promise.all(orders.map(() => register(server.url)));
      await timed(two.bare, 2, orders, () => bareOne);
      await timed(two.pixa, 2, orders, (i) => pixaOne(accounts[i]));
    }
    const [bare1, pixa1, bare2, pixa2] = [one.bare, one.pixa, two.bare, two.pixa].map((t) => summary(t, setBytes));

    const describe = (r) =>
      `${ms(r.msPerPhoto)}/photo · ${num(r.photosPerSecond)} photos/s · ${num(r.mbPerSecond)} MB/s`;
    const aggregate = (name, pixa, bare) => {
      const ratio = pixa.msPerPhoto / bare.msPerPhoto;
      ctx.rows.push(
        row(
          'ingest',
          name,
          describe(pixa),
          `bare sharp: ${describe(bare)}`,
          ratio,
          `≤ ${TARGET}× time`,
          ratio <= TARGET,
        ),
      );
    };
    aggregate(`1 client, ${photos.length} photos (${mb(setBytes)})`, pixa1, bare1);
    aggregate('2 clients in parallel', pixa2, bare2);
    for (const photo of photos) {
      const p = median(pixa1.perPhoto.get(photo.name));
      const b = median(bare1.perPhoto.get(photo.name));
      ctx.rows.push(row('ingest', `  ${label(photo)}`, ms(p), ms(b), p / b));
    }
    ctx.results.ingest = { msPerPhoto: pixa1.msPerPhoto, bareMsPerPhoto: bare1.msPerPhoto };
  } finally {
    await ctx.stop(server);
  }

  function newTally() {
    return { perPhoto: new Map(photos.map((p) => [p.name, []])), walls: [], clients: 1 };
  }

  /** Runs one list of photos per client, all clients at once, and records the wall time in `tally`. */
  async function timed(tally, clients, lists, makeWorker) {
    const workers = lists.map((_, i) => makeWorker(i));
    const start = performance.now();
    await Promise.all(lists.map((list, i) => onePass(list, workers[i], tally.perPhoto)));
    tally.walls.push(performance.now() - start);
    tally.clients = clients;
  }
}

/**
 * A typical pass, robust to the odd slow request when other work shares the machine: for one client
 * the sum of each photo's median time; for several, the median wall time of the passes.
 */
function summary(tally, setBytes) {
  const photoCount = tally.perPhoto.size;
  const wall =
    tally.clients === 1 ? sum([...tally.perPhoto.values()].map((times) => median(times))) : median(tally.walls);
  const perPass = tally.clients * photoCount;
  return {
    perPhoto: tally.perPhoto,
    msPerPhoto: (wall * tally.clients) / perPass,
    photosPerSecond: perPass / (wall / 1000),
    mbPerSecond: (tally.clients * setBytes) / 1e6 / (wall / 1000),
  };
}

async function onePass(photos, work, perPhoto) {
  for (const photo of photos) {
    const start = performance.now();
    await work(photo);
    perPhoto?.get(photo.name).push(performance.now() - start);
  }
}

const rotate = (list, by) => [...list.slice(by), ...list.slice(0, by)];

export function label(photo) {
  const mp = photo.pixels / 1e6;
  return `${mp >= 10 ? Math.round(mp) : mp.toFixed(1)} MP ${photo.format.toUpperCase()}, ${mb(photo.bytes)} (${photo.about})`;
}
