// HEIC ingest: a 12 MP photo uploaded as HEIC (decoded by libheif in WebAssembly, in a worker)
// against the same photo as JPEG (decoded by libvips with shrink-on-load), through the HTTP API,
// taking turns upload by upload.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

import sharp from 'sharp';

import { register, upload } from '../lib/client.js';
import { CACHE_DIR } from '../lib/paths.js';
import { mb, median, ms, row } from '../lib/stats.js';

const run = promisify(execFile);
const HEIF_ENC = '/usr/bin/heif-enc';

export async function heic(ctx) {
  const { log } = ctx;
  if (!existsSync(HEIF_ENC)) {
    ctx.skip('heic', `${HEIF_ENC} is missing (apt-get install libheif-examples)`);
    return;
  }
  const { jpeg, heic } = await twelveMegapixelPair(ctx.photos, log);
  const passes = ctx.quick ? 2 : 5;
  log(`  the same 12 MP photo as JPEG (${mb(jpeg.length)}) and HEIC (${mb(heic.length)}), ${passes} turns each`);

  const server = await ctx.startPixa('heic');
  try {
    const times = { jpeg: [], heic: [] };
    // Warm-up, then turns: a fresh account each time, so neither upload is a duplicate.
    for (let pass = -1; pass < passes; pass++) {
      for (const [kind, data] of [
        ['jpeg', jpeg],
        ['heic', heic],
      ]) {
        const account = await register(server.url);
        const start = performance.now();
        await upload(server.url, account.token, [{ name: `photo.${kind}`, data }]);
        if (pass >= 0) times[kind].push(performance.now() - start);
      }
    }
    const [h, j] = [median(times.heic), median(times.jpeg)];
    ctx.rows.push(row('heic', '12 MP HEIC upload (4032×3024)', ms(h), `same photo as JPEG: ${ms(j)}`, h / j));
    ctx.results.heic = { heicMs: h, jpegMs: j, ratio: h / j };
  } finally {
    await ctx.stop(server);
  }
}

/**
 * An iPhone-sized (4032×3024) JPEG made from the largest sample photo, and that JPEG encoded as HEIC
 * by heif-enc at its default settings (x265, quality 50), both made once and cached: x265 takes
 * about a minute for it here.
 */
async function twelveMegapixelPair(photos, log) {
  const dir = path.join(CACHE_DIR, 'photos');
  await mkdir(dir, { recursive: true });
  const source = [...photos].sort((a, b) => b.pixels - a.pixels)[0];
  const jpegFile = path.join(dir, 'heic-source-12mp.jpg');
  const heicFile = path.join(dir, 'heic-12mp.heic');
  if (!(await nonEmpty(jpegFile))) {
    const data = await sharp(source.data).resize(4032, 3024, { fit: 'cover' }).jpeg({ quality: 90 }).toBuffer();
    await writeFile(jpegFile, data);
  }
  if (!(await nonEmpty(heicFile))) {
    log('  encoding the 12 MP HEIC with heif-enc (once, cached)');
    await run(HEIF_ENC, ['-q', '50', '-o', `${heicFile}.tmp.heic`, jpegFile], { timeout: 600_000 });
    await rename(`${heicFile}.tmp.heic`, heicFile);
  }
  return { jpeg: await readFile(jpegFile), heic: await readFile(heicFile) };
}

async function nonEmpty(file) {
  try {
    return (await stat(file)).size > 0;
  } catch {
    return false;
  }
}
