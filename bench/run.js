#!/usr/bin/env node
// `npm run bench`: measures Pixa against a baseline in the same run and prints one table with
// ratios. Benchmarks assert nothing; the targets are shown for reading. See docs/BENCHMARKS.md.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { closeClient } from './lib/client.js';
import { DIST, ROOT } from './lib/paths.js';
import { loadPhotos } from './lib/photos.js';
import { startPixa } from './lib/pixa-process.js';
import { summarizeProfile } from './lib/profile.js';
import { renderTable, row } from './lib/stats.js';
import { backends } from './sections/backends.js';
import { heic } from './sections/heic.js';
import { ingest } from './sections/ingest.js';
import { listing } from './sections/listing.js';
import { memory } from './sections/memory.js';
import { resumable } from './sections/resumable.js';
import { serving } from './sections/serving.js';
import { usage } from './sections/usage.js';

const SECTIONS = { ingest, heic, serving, listing, usage, memory, backends, resumable };

const HELP = `Usage: npm run bench -- [options]

  --quick             a short run (about 2 minutes): fewer passes, shorter load runs
  --only a,b          run only these sections: ${Object.keys(SECTIONS).join(', ')}
  --skip a,b          run every section but these
  --profile a,b       run the Pixa server of these sections under node --cpu-prof and print its hottest frames
  --log-level LEVEL   the servers' PIXA_LOG_LEVEL (default: Pixa's own default, info, written to a file)
  --json FILE         also write every figure as JSON
  --markdown          print the table as Markdown (for docs/BENCHMARKS.md)
  --keep              keep the temp directory (server logs, databases, profiles)
  --compare DIR,DIR   serving: also measure the servers of these other built checkouts, in the same turns

Environment: PIXA_TEST_MYSQL_URL and PIXA_TEST_POSTGRES_URL add MariaDB/MySQL and PostgreSQL runs
(the benchmark creates and drops its own database on that server); PIXA_BENCH_CACHE moves the photo cache.
`;

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    skip: { type: 'string' },
    profile: { type: 'string', default: '' },
    'log-level': { type: 'string' },
    json: { type: 'string' },
    markdown: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    compare: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opts.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

const list = (value) => (value ? value.split(',').map((s) => s.trim()) : []);
const unknown = [...list(opts.only), ...list(opts.skip), ...list(opts.profile)].filter((s) => !(s in SECTIONS));
if (unknown.length > 0) {
  process.stderr.write(`bench: unknown section(s) ${unknown.join(', ')}\n\n${HELP}`);
  process.exit(2);
}
const wanted = Object.keys(SECTIONS).filter(
  (name) => (opts.only ? list(opts.only).includes(name) : true) && !list(opts.skip).includes(name),
);

const log = (line) => process.stdout.write(`${line}\n`);

ensureBuilt();
const environment = describeEnvironment();
log(`Pixa benchmarks · ${environment.date} · ${environment.machine} · Node ${environment.node}`);
log(`dist/ built ${environment.distBuilt} · commit ${environment.commit}${opts.quick ? ' · quick run' : ''}`);
log(
  `load average ${environment.loadBefore}${os.loadavg()[0] > 1 ? ': other work is running, figures will be noisier' : ''}\n`,
);

const tmp = await mkdtemp(path.join(os.tmpdir(), 'pixa-bench-'));
const profileDir = path.join(tmp, 'profiles');
const ctx = {
  quick: opts.quick,
  logLevel: opts['log-level'],
  compare: list(opts.compare).map((dir) => path.resolve(dir)),
  log,
  rows: [],
  results: {},
  tmp,
  photos: [],
  /** Starts a Pixa server for a section, under the CPU profiler when `--profile` names that section. */
  async startPixa(section, { env = {}, name = section, args = [], core, root } = {}) {
    const dataDir = await mkdtemp(path.join(tmp, `${name}-`));
    const logLevel = opts['log-level'] ? { PIXA_LOG_LEVEL: opts['log-level'] } : {};
    const profiled = list(opts.profile).includes(section);
    if (profiled) await mkdir(profileDir, { recursive: true });
    const server = await startPixa({
      dataDir,
      env: { ...logLevel, ...env },
      name,
      args,
      cpuProfileDir: profiled ? profileDir : undefined,
      core,
      root,
    });
    return { ...server, section, profiled };
  },
  /** Stops a server; prints where its CPU profile went and its hottest frames when it was profiled. */
  async stop(server) {
    await server.stop();
    if (!server.profiled) return;
    const file = (await readdir(profileDir)).find((f) => f.startsWith(`${server.name}.cpuprofile`));
    if (!file) {
      log(`  no CPU profile was written for ${server.name}`);
      return;
    }
    const kept = path.join(os.tmpdir(), `pixa-bench-${server.name}-${Date.now()}.cpuprofile`);
    execFileSync('cp', [path.join(profileDir, file), kept]);
    log(`\n  CPU profile of ${server.name}: ${kept}`);
    log(summarizeProfile(kept, { top: 25 }).replace(/^/gm, '    '));
    await rm(path.join(profileDir, file));
  },
  skip(section, reason) {
    log(`  skipped: ${reason}`);
    ctx.rows.push(row(section, `skipped: ${reason}`, ''));
  },
};

const started = Date.now();
try {
  log('Sample photos');
  ctx.photos = await loadPhotos(log);
  for (const name of wanted) {
    log(`\n== ${name}`);
    const sectionStart = Date.now();
    try {
      await SECTIONS[name](ctx);
    } catch (error) {
      log(`  ${name} failed: ${error.stack ?? error}`);
      ctx.rows.push(row(name, `failed: ${String(error.message ?? error).split('\n')[0]}`, ''));
    }
    log(`  (${((Date.now() - sectionStart) / 1000).toFixed(0)} s)`);
  }
} finally {
  await closeClient();
  if (opts.keep) log(`\nkept ${tmp}`);
  else await rm(tmp, { recursive: true, force: true });
}

environment.loadAfter = loadAverage();
log(
  `\nResults (${((Date.now() - started) / 1000 / 60).toFixed(1)} min; load average before ${environment.loadBefore}, after ${environment.loadAfter})\n`,
);
log(renderTable(ctx.rows, { markdown: opts.markdown }));
if (opts.json) {
  await writeFile(
    opts.json,
    `${JSON.stringify({ environment, quick: opts.quick, rows: ctx.rows, results: ctx.results }, null, 2)}\n`,
  );
  log(`\nwrote ${opts.json}`);
}

/** The benchmarks run the compiled server; build it first when dist/ is missing (a fresh clone). */
function ensureBuilt() {
  if (existsSync(path.join(DIST, 'app.js'))) return;
  log('dist/ is missing: running `npm run build:server` first (the benchmarks measure the compiled server).');
  spawnSync('npm', ['run', 'build:server'], { cwd: ROOT, stdio: 'inherit' });
  if (!existsSync(path.join(DIST, 'app.js'))) {
    process.stderr.write(
      'bench: the build did not produce dist/app.js. Run `npm run build` and fix what it reports.\n',
    );
    process.exit(1);
  }
}

function loadAverage() {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

function describeEnvironment() {
  const git = (...args) => {
    try {
      return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return 'unknown';
    }
  };
  const dirty = git('status', '--porcelain', '--', 'src').length > 0 ? ' (src/ has uncommitted changes)' : '';
  const cpus = os.cpus();
  return {
    date: new Date().toISOString().slice(0, 10),
    machine: `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    node: process.versions.node,
    commit: `${git('rev-parse', '--short', 'HEAD')}${dirty}`,
    loadBefore: loadAverage(),
    distBuilt: statSync(path.join(DIST, 'app.js')).mtime.toISOString().replace('T', ' ').slice(0, 16),
  };
}
