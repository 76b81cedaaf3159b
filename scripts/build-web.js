// Builds the web front end (web/ → web/dist) with Vite, but only when a source is newer than the last
// build, so `npm start` and `npm test` stay quick. Pass --force to build regardless.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const webDir = join(root, 'web');
const builtIndex = join(webDir, 'dist', 'index.html');
const sources = [
  join(webDir, 'src'),
  join(webDir, 'index.html'),
  join(webDir, 'vite.config.js'),
  join(webDir, 'public'),
  // The web imports the API contract's types and credential rules.
  join(root, 'src', 'api'),
];

/** Newest modification time among the files under `path` (a file or a directory), or 0 if absent. */
function newestMtime(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

function staleReason() {
  if (process.argv.includes('--force')) return 'a forced build was asked for';
  const built = newestMtime(builtIndex);
  if (built === 0) return `${relative(root, builtIndex)} is missing`;
  const changed = sources.find((source) => newestMtime(source) > built);
  return changed ? `${relative(root, changed)} changed since the last build` : null;
}

/**
 * Test files may ask for a build at the same moment; Vite empties web/dist first, so two builds at once
 * could delete each other's files. A lock directory (mkdir is atomic) lets one build while the others wait.
 */
async function withLock(work) {
  const lock = join(tmpdir(), `pixa-build-web-${createHash('sha256').update(root).digest('hex').slice(0, 12)}.lock`);
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
      // A lock left behind by a build that crashed is taken over after two minutes.
      if (Date.now() - newestMtime(lock) > 120_000) rmSync(lock, { recursive: true, force: true });
      else await sleep(200);
    }
  }
  try {
    return await work();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

await withLock(async () => {
  const reason = staleReason();
  if (reason === null) {
    console.log('build-web: web/dist is up to date, nothing to build');
    return;
  }
  console.log(`build-web: building the web UI because ${reason}`);
  const started = process.hrtime.bigint();
  // Always the production bundle: Vitest sets NODE_ENV=test, and a build that a test starts would
  // otherwise take Svelte's development code (about a fifth larger) and test that instead.
  process.env.NODE_ENV = 'production';
  const { build } = await import('vite');
  await build({ configFile: join(webDir, 'vite.config.js'), logLevel: 'warn' });
  const ms = Number((process.hrtime.bigint() - started) / 1_000_000n);
  console.log(`build-web: wrote ${relative(root, dirname(builtIndex))} in ${ms} ms`);
});
