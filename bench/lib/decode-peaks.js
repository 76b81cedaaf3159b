// Peak memory of one decode per kind of file, each in a fresh process: the figures behind the
// estimates in src/image/decode-estimate.ts. `node bench/lib/decode-peaks.js [width height]`
// (default 6000 4000) prints one line per file: its header, the RSS growth while Pixa's derivative
// pipeline ran on it, and what the estimate says. Linux only (/proc/self/status).
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import sharp from 'sharp';

import { dist } from './paths.js';

const run = promisify(execFile);
const MB = 1024 * 1024;

const KINDS = {
  'jpeg-baseline.jpg': (img) => img.jpeg({ quality: 80 }),
  'jpeg-progressive.jpg': (img) => img.jpeg({ quality: 80, progressive: true }),
  'png-8bit.png': (img) => img.png(),
  'png-8bit-interlaced.png': (img) => img.png({ progressive: true }),
  'png-16bit-rgba.png': (img) => img.ensureAlpha().toColourspace('rgb16').png(),
  'png-16bit-rgba-interlaced.png': (img) => img.ensureAlpha().toColourspace('rgb16').png({ progressive: true }),
  'gif.gif': (img) => img.gif(),
  'webp.webp': (img) => img.webp({ effort: 0 }),
  'tiff-strips.tif': (img) => img.tiff({ compression: 'deflate' }),
  'tiff-one-strip.tif': (img, width, height) =>
    img.tiff({ compression: 'deflate', tileWidth: width, tileHeight: height }),
  'avif.avif': (img) => img.avif({ quality: 50, effort: 0 }),
};

/** The child: runs makeDerivatives on one file after a warm-up and prints its peak growth. */
async function measure(file) {
  const { readFileSync, writeFileSync } = await import('node:fs');
  const { makeDerivatives } = await import(dist('image/image-processor.js'));
  const status = () => readFileSync('/proc/self/status', 'utf8');
  const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status())[1]) * 1024;
  const tiny = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#888' } })
    .png()
    .toBuffer();
  for (let i = 0; i < 3; i++) await sharp(tiny).resize(32).webp().toBuffer();
  await new Promise((resolve) => setTimeout(resolve, 200));
  writeFileSync('/proc/self/clear_refs', '5');
  const start = kb('VmRSS');
  await makeDerivatives(file, 1_000_000_000);
  process.stdout.write(`${kb('VmHWM') - start}\n`);
}

async function main() {
  const [width = 6000, height = 4000] = process.argv.slice(2).map(Number);
  const { estimateDecodeBytes } = await import(dist('image/decode-estimate.js'));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pixa-decode-peaks-'));
  try {
    const small = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#369' } })
      .png()
      .toBuffer();
    for (const [name, encode] of Object.entries(KINDS)) {
      const file = path.join(dir, name);
      await encode(sharp(small).resize(width, height, { kernel: 'linear' }), width, height).toFile(file);
      const meta = await sharp(file).metadata();
      const { stdout } = await run(process.execPath, [fileURLToPath(import.meta.url), '--measure', file]);
      const estimate = estimateDecodeBytes({
        format: meta.format,
        width: meta.width,
        height: meta.height,
        channels: meta.channels,
        depth: meta.depth,
        progressive: meta.isProgressive === true,
        chromaSubsampling: meta.chromaSubsampling,
      });
      const grew = Number(stdout.trim()) / MB;
      process.stdout.write(
        `${name.padEnd(32)} ${`${width}×${height}`.padEnd(12)} measured +${grew.toFixed(0).padStart(4)} MB` +
          `   estimate ${(estimate.bytes / MB).toFixed(0).padStart(5)} MB${estimate.bytes / MB < grew ? '  UNDER' : ''}\n`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--measure') await measure(process.argv[3]);
else await main();
