import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { compile } from 'svelte/compiler';
import { expect, test } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

// The project's own type check covers Node code only; the front end has its own tsconfig (DOM, runes).
test('web front end › its TypeScript type-checks against the DOM and Svelte’s runes', () => {
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', path.join(ROOT, 'web', 'tsconfig.json')], {
    encoding: 'utf8',
  });
  expect(result.stdout + result.stderr).toBe('');
  expect(result.status).toBe(0);
});

// ESLint does not read .svelte files; the Svelte compiler's own checks (accessibility among them) stand in.
test('web front end › every component compiles without a warning', () => {
  const dir = path.join(ROOT, 'web', 'src');
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.svelte'));
  expect(files.length).toBeGreaterThan(5);
  const warnings = files.flatMap((file) =>
    compile(readFileSync(path.join(dir, file), 'utf8'), { filename: file }).warnings.map(
      (warning) => `${file}:${warning.start?.line ?? '?'} ${warning.code}: ${warning.message}`,
    ),
  );
  expect(warnings).toEqual([]);
});
