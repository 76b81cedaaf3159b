// 5. Memory: peak RSS of the server process while it receives a 50 MB image, and while 8 clients
// upload at once; against the bare pipeline doing the same work in a process of its own.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { register, upload } from '../lib/client.js';
import { procAvailable, readMemory, watchMemory } from '../lib/memory.js';
import { fiftyMegabytePng } from '../lib/photos.js';
import { sleep } from '../lib/pixa-process.js';
import { mb, num, row } from '../lib/stats.js';

const CLIENTS = 8;
const TARGET = 0.5;
const run = promisify(execFile);

export async function memory(ctx) {
  if (!procAvailable()) {
    ctx.skip('memory', 'no /proc/<pid>/status here (Linux only)');
    return;
  }
  const big = await fiftyMegabytePng(ctx.photos);
  const photo = ctx.photos[0];
  const warmup = ctx.photos.find((p) => p.pixels > 2e6 && p.pixels < 5e6) ?? ctx.photos[ctx.photos.length - 1];

  const server = await ctx.startPixa('memory');
  let single;
  let parallel;
  let idle;
  try {
    const accounts = await Promise.all(Array.from({ length: CLIENTS + 1 }, () => register(server.url)));
    for (let i = 0; i < 3; i++) await upload(server.url, (await register(server.url)).token, [warmup]);
    await sleep(1000);
    idle = readMemory(server.pid).rss;

    let watch = watchMemory(server.pid);
    await upload(server.url, accounts[0].token, [{ name: big.name, data: big.data }]);
    single = watch.stop();
    await sleep(1000);

    watch = watchMemory(server.pid);
    await Promise.all(
      accounts.slice(1).map((a) => upload(server.url, a.token, [{ name: photo.name, data: photo.data }])),
    );
    parallel = watch.stop();
  } finally {
    await ctx.stop(server);
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
        `growth < ${TARGET}× upload`,
        ratio < TARGET,
      ),
    );
  };
  ctx.log(`  idle server RSS after warm-up: ${mb(idle)}`);
  add(`receiving one ${mb(big.bytes)} PNG (24 MP)`, single, bare.single, big.bytes);
  add(
    `${CLIENTS} clients uploading a ${mb(photo.bytes)} 24 MP JPEG at once`,
    parallel,
    bare.parallel,
    CLIENTS * photo.bytes,
  );
  ctx.results.memory = { idle, single, parallel, bare, bigBytes: big.bytes, photoBytes: photo.bytes };
}
