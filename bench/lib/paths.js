import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: bench/ lives beside src/ and dist/. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The compiled server; benchmarks load Pixa's code only from here. */
export const DIST = path.join(ROOT, 'dist');

/** An import URL for a compiled module, e.g. `dist('image/image-processor.js')`. */
export const dist = (file) => new URL(`file://${path.join(DIST, file)}`).href;

/** Downloaded sample photos and files made from them; kept between runs, never committed. */
export const CACHE_DIR = process.env.PIXA_BENCH_CACHE ?? path.join(ROOT, 'node_modules', '.cache', 'pixa-bench');

export const TMP_ROOT = os.tmpdir();
