// Reads a V8 .cpuprofile (node --cpu-prof) and says where the time went: by package, the hottest
// functions by self time, and Pixa's own functions by total (inclusive) time.
import { readFileSync } from 'node:fs';

import { ROOT } from './paths.js';

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

export function summarizeProfile(file, { top = 20 } = {}) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const self = new Map();
  const total = new Map();
  const packages = new Map();
  let all = 0;
  let idle = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = (profile.timeDeltas[i] ?? 0) / 1000;
    const node = byId.get(profile.samples[i]);
    if (!node) continue;
    all += delta;
    if (node.callFrame.functionName === '(idle)') {
      idle += delta;
      continue;
    }
    const key = frameKey(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + delta);
    const pkg = packageOf(node.callFrame);
    packages.set(pkg, (packages.get(pkg) ?? 0) + delta);
    const seen = new Set();
    for (let id = node.id; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id).callFrame;
      const k = frameKey(frame);
      if (seen.has(k) || SPECIAL.has(frame.functionName)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + delta);
    }
  }
  const busy = all - idle;
  const pct = (ms) => `${((100 * ms) / busy).toFixed(1).padStart(5)}%`;
  const topOf = (map, filter = () => true) =>
    [...map.entries()]
      .filter(([k]) => filter(k))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top);
  const lines = [
    `${(all / 1000).toFixed(1)} s sampled, ${(busy / 1000).toFixed(1)} s on CPU (${((100 * busy) / all).toFixed(0)}%); shares below are of CPU time`,
    '',
    'self time by package:',
    ...topOf(packages).map(([k, v]) => `  ${pct(v)}  ${k}`),
    '',
    'hottest functions (self time):',
    ...topOf(self).map(([k, v]) => `  ${pct(v)}  ${k}`),
    '',
    "Pixa's functions (total time, callees included):",
    ...topOf(total, (k) => !k.includes('node_modules') && /[ /]dist\//.test(k)).map(([k, v]) => `  ${pct(v)}  ${k}`),
  ];
  return lines.join('\n');
}

function frameKey(frame) {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name;
  return `${name} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
}

function shortUrl(url) {
  const file = url.replace(/^file:\/\//, '');
  return file.startsWith(ROOT) ? file.slice(ROOT.length + 1) : file;
}

function packageOf(frame) {
  if (SPECIAL.has(frame.functionName) || frame.functionName === '(garbage collector)') return frame.functionName;
  const url = frame.url ?? '';
  if (!url) return '(native / V8 builtins)';
  if (url.startsWith('node:')) return 'node: core';
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (match) return match[1];
  if (url.includes('/dist/')) return 'pixa (dist/)';
  return shortUrl(url);
}
