// 5. Memory: peak RSS of the server process while it receives a 50 MB image, and while 8 clients
// upload at once; against the bare pipeline doing the same work in a process of its own. Then small
// hostile files that decode through a whole-image buffer, uploaded at once: against the decode
// budget, and against a server whose decode bounds are lifted (what Pixa did before it had them).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { register, upload } from '../lib/client.js';
import { procAvailable, readMemory, watchMemory } from '../lib/memory.js';
import { CACHE_DIR, ROOT } from '../lib/paths.js';
import { fiftyMegabytePng } from '../lib/photos.js';
import { sleep } from '../lib/pixa-process.js';
import { mb, num, row } from '../lib/stats.js';

const CLIENTS = 8;
const TARGET = 0.5;
const MB = 1024 * 1024;
/** The server may grow this much more than the bare pipeline doing the same decodes (HTTP, staging, DB). */
const BARE_MARGIN = 10e6;
/** Pixa's default PIXA_DECODE_MEMORY_MB, which the section's server runs with. */
const DECODE_BUDGET_MB = 1024;
const UNBOUNDED = { PIXA_DECODE_CONCURRENCY: '64', PIXA_DECODE_MEMORY_MB: '1000000' };
const run = promisify(execFile);

/**
 * Four 24 MP interlaced 16-bit RGBA PNGs (~400 KB each, ~226 MB each to decode) and a 24 MP GIF
 * (~10 KB, ~124 MB): made once by sharp in a process of its own, kept in the photo cache.
 */
async function hostileImages() {
  const dir = path.join(CACHE_DIR, 'hostile');
  await mkdir(dir, { recursive: true });
  const names = [10, 70, 130, 190].map((hue) => `interlaced-16bit-24mp-${hue}.png`).concat('24mp.gif');
  const script = `
    import { existsSync } from 'node:fs';
    import sharp from 'sharp';
    const dir = process.argv[1];
    const base = async (hue) => sharp(await sharp({ create: { width: 64, height: 64, channels: 3,
      background: { r: hue, g: 120, b: 200 } } }).png().toBuffer()).resize(6000, 4000, { kernel: 'linear' });
    for (const hue of [10, 70, 130, 190]) {
      const file = dir + '/interlaced-16bit-24mp-' + hue + '.png';
      if (!existsSync(file)) await (await base(hue)).ensureAlpha().toColourspace('rgb16').png({ progressive: true }).toFile(file);
    }
    if (!existsSync(dir + '/24mp.gif')) await (await base(250)).gif().toFile(dir + '/24mp.gif');
  `;
  await run(process.execPath, ['--input-type=module', '-e', script, dir], { cwd: ROOT });
  return Promise.all(names.map(async (name) => ({ name, data: await readFile(path.join(dir, name)) })));
}

/**
 * Sends `bytes` of random data, which is staged to disk and then refused as not an image (415): the
 * receive path alone, no decode. Resolves with the status.
 */
async function uploadNonImage(server, token, bytes) {
  const form = new FormData();
  form.append('file', new Blob([randomBytes(bytes)]), 'noise.bin');
  const response = await fetch(new URL('/api/v1/images', server.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: form,
  });
  await response.arrayBuffer();
  return response.status;
}

/** Peak RSS of `server` while each hostile file is uploaded by its own account, all at once. */
async function uploadHostile(server, files) {
  const accounts = await Promise.all(files.map(() => register(server.url)));
  await upload(server.url, accounts[0].token, [{ name: 'warm.gif', data: files[files.length - 1].data }]);
  await sleep(1000);
  const watch = watchMemory(server.pid);
  await Promise.all(files.map((file, i) => upload(server.url, accounts[i].token, [file])));
  return watch.stop();
}

export async function memory(ctx) {
  if (!procAvailable()) {
    ctx.skip('memory', 'no /proc/<pid>/status here (Linux only)');
    return;
  }
  const big = await fiftyMegabytePng(ctx.photos);
  const photo = ctx.photos[0];
  const warmup = ctx.photos.find((p) => p.pixels > 2e6 && p.pixels < 5e6) ?? ctx.photos[ctx.photos.length - 1];

  const hostile = await hostileImages();
  const server = await ctx.startPixa('memory');
  let single;
  let parallel;
  let idle;
  let receive;
  let bounded;
  let unbounded;
  try {
    const accounts = await Promise.all(Array.from({ length: CLIENTS + 1 }, () => register(server.url)));
    for (let i = 0; i < 3; i++) await upload(server.url, (await register(server.url)).token, [warmup]);
    await sleep(1000);
    idle = readMemory(server.pid).rss;

    // The first large request grows the process once (V8 lets up to 64 MB of freed Buffers wait for a
    // collection, and malloc keeps the pages for the next upload): measured on its own, so that the
    // PNG below compares with the bare pipeline like for like.
    let watch = watchMemory(server.pid);
    const status = await uploadNonImage(server, accounts[0].token, big.bytes);
    receive = watch.stop();
    if (status !== 415) throw new Error(`a non-image upload answered ${status}, not 415`);
    await sleep(1000);

    watch = watchMemory(server.pid);
    await upload(server.url, accounts[0].token, [{ name: big.name, data: big.data }]);
    single = watch.stop();
    await sleep(1000);

    watch = watchMemory(server.pid);
    await Promise.all(
      accounts.slice(1).map((a) => upload(server.url, a.token, [{ name: photo.name, data: photo.data }])),
    );
    parallel = watch.stop();
    await sleep(1000);

    bounded = await uploadHostile(server, hostile);
  } finally {
    await ctx.stop(server);
  }
  const lifted = await ctx.startPixa('memory', { name: 'memory-unbounded', env: UNBOUNDED });
  try {
    unbounded = await uploadHostile(lifted, hostile);
  } finally {
    await ctx.stop(lifted);
  }

  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'lib', 'bare-memory.js');
  const { stdout } = await run(process.execPath, [script, warmup.file, big.file, photo.file, String(CLIENTS)], {
    maxBuffer: 1 << 20,
  });
  const bare = JSON.parse(stdout.trim().split('\n').pop());

  const add = (name, pixa, base, inFlight) => {
    const growth = pixa.peak - pixa.start;
    const ratio = growth / inFlight;
    ctx.rows.push(
      row(
        'memory',
        name,
        `peak ${mb(pixa.peak)} RSS, +${mb(growth)} (${num(ratio)}× the bytes in flight)`,
        `bare sharp: +${mb(base.peak - base.start)}`,
        ratio,
        `growth < ${TARGET}× upload, or within ${mb(BARE_MARGIN)} of bare`,
        ratio < TARGET || growth - (base.peak - base.start) < BARE_MARGIN,
      ),
    );
  };
  ctx.log(`  idle server RSS after warm-up: ${mb(idle)}`);
  ctx.rows.push(
    row(
      'memory',
      `receiving ${mb(big.bytes)} of noise, staged and refused (415): the receive path alone, first time`,
      `+${mb(receive.peak - receive.start)} (${num((receive.peak - receive.start) / big.bytes)}× the bytes in flight)`,
      '',
      (receive.peak - receive.start) / big.bytes,
      `growth < ${TARGET}× upload`,
      (receive.peak - receive.start) / big.bytes < TARGET,
    ),
  );
  add(`receiving one ${mb(big.bytes)} PNG (24 MP)`, single, bare.single, big.bytes);
  add(
    `${CLIENTS} clients uploading a ${mb(photo.bytes)} 24 MP JPEG at once`,
    parallel,
    bare.parallel,
    CLIENTS * photo.bytes,
  );
  const hostileBytes = hostile.reduce((sum, file) => sum + file.data.length, 0);
  const growth = bounded.peak - bounded.start;
  ctx.rows.push(
    row(
      'memory',
      `${hostile.length - 1} interlaced 16-bit 24 MP PNGs + a 24 MP GIF (${mb(hostileBytes)} in all) at once`,
      `peak ${mb(bounded.peak)} RSS, +${mb(growth)}`,
      `decode bounds lifted: +${mb(unbounded.peak - unbounded.start)}`,
      growth / (unbounded.peak - unbounded.start),
      `growth < ${DECODE_BUDGET_MB} MB budget`,
      growth < DECODE_BUDGET_MB * MB,
    ),
  );
  ctx.results.memory = {
    idle,
    receive,
    single,
    parallel,
    bare,
    bigBytes: big.bytes,
    photoBytes: photo.bytes,
    hostile: { bounded, unbounded, bytes: hostileBytes },
  };
}
