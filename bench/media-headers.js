#!/usr/bin/env node
// Micro-benchmark: Pixa's own Range and Content-Disposition helpers (src/http/media-headers.ts)
// against the jshttp libraries `range-parser` and `content-disposition`, plus how the answers differ
// on the cases the media tests pin. Not part of `npm run bench` (one call per media request is far
// below the serving path's cost); run it by hand when the helpers change:
//
//   node bench/media-headers.js [--range-parser DIR] [--content-disposition DIR]
//
// By default the libraries are the copies already in node_modules (transitive dependencies); pass a
// package directory (e.g. an unpacked `npm pack range-parser@1.3.0`) to measure another version.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import ts from 'typescript';

import { ROOT } from './lib/paths.js';

const { values } = parseArgs({
  options: { 'range-parser': { type: 'string' }, 'content-disposition': { type: 'string' } },
});
const require = createRequire(path.join(ROOT, 'package.json'));
/** A library from the project's node_modules, or from a package directory given on the command line. */
const load = (name, dir) => {
  const resolved = require.resolve(dir ? path.resolve(dir) : name);
  return { module: require(resolved), version: JSON.parse(readFileSync(packageJsonOf(resolved), 'utf8')).version };
};
function packageJsonOf(file) {
  let dir = path.dirname(file);
  while (!existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return path.join(dir, 'package.json');
}

const rangeParser = load('range-parser', values['range-parser']);
const disposition = load('content-disposition', values['content-disposition']);
const createDisposition =
  typeof disposition.module === 'function' ? disposition.module : disposition.module.create.bind(disposition.module);

// Pixa's helpers, compiled on the fly (the file has no run-time imports).
const tmp = await mkdtemp(path.join(os.tmpdir(), 'pixa-media-headers-'));
const source = await readFile(path.join(ROOT, 'src/http/media-headers.ts'), 'utf8');
await writeFile(
  path.join(tmp, 'media-headers.mjs'),
  ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } })
    .outputText,
);
const own = await import(pathToFileURL(path.join(tmp, 'media-headers.mjs')).href);
await rm(tmp, { recursive: true, force: true });

/** Pixa's answer shape from range-parser's: one satisfiable range, 'unsatisfiable', or undefined. */
function viaRangeParser(header, size) {
  if (!header) return undefined;
  const ranges = rangeParser.module(size, header);
  if (ranges === -2) return undefined;
  if (ranges === -1) return 'unsatisfiable';
  if (ranges.type !== 'bytes' || ranges.length !== 1) return undefined;
  return ranges[0];
}

const ASCII_FALLBACK = (name) => name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
const viaContentDisposition = (type, name) => createDisposition(name, { type, fallback: ASCII_FALLBACK(name) });

/** Best of five runs of `count` calls, in nanoseconds per call. */
function nsPerCall(fn, count = 1_000_000) {
  let sink = 0;
  let best = Infinity;
  for (let run = 0; run < 5; run++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < count; i++) sink ^= fn(i) ? 1 : 0;
    best = Math.min(best, Number(process.hrtime.bigint() - start) / count);
  }
  if (sink === 2) console.log(sink); // keeps the calls from being optimised away
  return best;
}

const SIZE = 4_000_000;
const RANGES = ['bytes=0-99', 'bytes=100-', 'bytes=-50', 'bytes=1048576-2097151'];
const NAMES = ['IMG_2041.jpg', 'Été à Zürich "best" 東京.jpg'];

const rows = [
  [
    'Range, 4 typical headers',
    `range-parser ${rangeParser.version}`,
    (i) => own.parseRange(RANGES[i & 3], SIZE),
    (i) => viaRangeParser(RANGES[i & 3], SIZE),
  ],
  ...NAMES.map((name) => [
    `Content-Disposition, ${/^[\x20-\x7e]*$/.test(name) ? 'ASCII' : 'Unicode'} name`,
    `content-disposition ${disposition.version}`,
    () => own.contentDisposition('attachment', name),
    () => viaContentDisposition('attachment', name),
  ]),
];
console.log(`Node ${process.version}, best of 5 × 1,000,000 calls`);
for (const [what, library, mine, theirs] of rows) {
  const a = nsPerCall(mine);
  const b = nsPerCall(theirs);
  console.log(
    `${what.padEnd(34)} Pixa ${a.toFixed(0).padStart(4)} ns   ${library.padEnd(26)} ${b.toFixed(0).padStart(4)} ns`,
  );
}

console.log('\nAnswers that differ (size 300):');
const cases = [
  'bytes=50-10',
  'bytes=-500',
  'bytes=0-10,20-30',
  'items=0-10',
  'bytes=999-',
  'bytes=-0',
  'bytes= 5-9',
  'bytes=5x-9',
];
for (const header of cases) {
  const a = JSON.stringify(own.parseRange(header, 300));
  const b = JSON.stringify(viaRangeParser(header, 300));
  if (a !== b) console.log(`  Range ${header.padEnd(18)} Pixa ${a}   range-parser ${b}`);
}
for (const name of [...NAMES, 'plain.jpg', 'a "quoted" name.jpg', 'dir/name.jpg']) {
  const a = own.contentDisposition('inline', name);
  const b = viaContentDisposition('inline', name);
  if (a !== b) console.log(`  Disposition of ${JSON.stringify(name)}\n    Pixa    ${a}\n    library ${b}`);
}
