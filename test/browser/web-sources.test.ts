import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { build, type Rolldown } from 'vite';
import { describe, expect, test } from 'vitest';

import { ensureWebBuilt } from './browser.js';

/*
 * The web imports the API contract (src/api) for its types and credential rules. Type imports vanish in
 * the build; a value import from the wrong module would bring TypeBox, or worse server code, into every
 * page load. These checks keep the bundle to the web's own code. (Type errors and component warnings are
 * `npm run lint`'s: svelte-check and ESLint read every .svelte file.)
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Strings that survive minification and belong to one server-side library each. */
const SERVER_MARKERS: { name: string; marker: string }[] = [
  { name: 'typebox (schemas at run time)', marker: '~kind' },
  { name: 'kysely', marker: 'kysely:' },
  { name: 'fastify', marker: 'FST_ERR_' },
  { name: '@zxcvbn-ts password dictionary', marker: 'trustno1' },
];

/** Which server libraries a piece of built JavaScript holds. */
function serverCodeIn(code: string): string[] {
  return SERVER_MARKERS.filter(({ marker }) => code.includes(marker)).map(({ name }) => name);
}

/** The modules a bundle may be made of: the web's own, Svelte's runtime, and the contract's credential rules. */
/**
 * Packages the web app is built with: Svelte, the resumable-upload client with what it uses in a browser,
 * and the QR code encoder of the share dialog.
 */
const WEB_PACKAGES = [
  'svelte',
  'esm-env',
  'tus-js-client',
  'js-base64',
  'url-parse',
  'querystringify',
  'requires-port',
  'combine-errors',
  'custom-error-instance',
  'lodash.uniq',
  'lodash.throttle',
  'buffer-from',
  'is-stream',
  'uqr',
];

function isWebModule(id: string): boolean {
  const file = path.relative(ROOT, id.replace(/\?.*$/, ''));
  return (
    id.startsWith('\0') ||
    file.startsWith(`web${path.sep}`) ||
    WEB_PACKAGES.some((name) => file.startsWith(path.join('node_modules', name) + path.sep)) ||
    file === path.join('src', 'api', 'credential-rules.ts')
  );
}

/** Builds in memory (nothing is written) and lists every module of every chunk, with the chunks' code. */
async function buildInMemory(config: Parameters<typeof build>[0]): Promise<{ modules: string[]; code: string }> {
  const result = await build({ ...config, logLevel: 'silent', build: { ...config?.build, write: false } });
  const chunks = (Array.isArray(result) ? result : [result as Rolldown.RolldownOutput])
    .flatMap((output) => output.output)
    .filter((item): item is Rolldown.OutputChunk => item.type === 'chunk');
  return {
    modules: chunks.flatMap((chunk) => chunk.moduleIds),
    code: chunks.map((chunk) => chunk.code).join('\n'),
  };
}

describe('web bundle', () => {
  test('web/dist holds no server code: no TypeBox, Kysely, Fastify or password dictionary', () => {
    ensureWebBuilt();
    const assets = path.join(ROOT, 'web', 'dist', 'assets');
    const scripts = readdirSync(assets).filter((file) => file.endsWith('.js'));
    expect(scripts.length).toBeGreaterThan(0);
    const found = scripts.flatMap((file) =>
      serverCodeIn(readFileSync(path.join(assets, file), 'utf8')).map((name) => `${file}: ${name}`),
    );
    expect(found).toEqual([]);
    // Nor Svelte's development checks: a build that a test starts is the production build too.
    const devChecks = scripts.filter((file) =>
      readFileSync(path.join(assets, file), 'utf8').includes('validate_each_keys'),
    );
    expect(devChecks).toEqual([]);
  });

  // Exact where the markers are a sample: a Node built-in, for one, shows up as `__vite-browser-external`.
  test('it is built from web/, Svelte, the resumable-upload client, the QR encoder and src/api/credential-rules.ts only', async () => {
    const { modules } = await buildInMemory({ configFile: path.join(ROOT, 'web', 'vite.config.js') });
    expect(modules).toContain(path.join(ROOT, 'src', 'api', 'credential-rules.ts'));
    expect(modules.filter((id) => !isWebModule(id))).toEqual([]);
  });

  // The two checks above pass by finding nothing; this one shows that they do find what they look for.
  test('an entry that takes a schema, Kysely, Fastify, the dictionary and node:crypto fails both checks', async () => {
    const cache = path.join(ROOT, 'node_modules', '.cache');
    mkdirSync(cache, { recursive: true });
    // Under the project root, so that the bare imports resolve from its node_modules.
    const dir = mkdtempSync(path.join(cache, 'pixa-bundle-check-'));
    try {
      const entry = path.join(dir, 'entry.js');
      const contract = path
        .relative(dir, path.join(ROOT, 'src', 'api', 'index.ts'))
        .split(path.sep)
        .join('/');
      writeFileSync(
        entry,
        [
          `import { UserSchema, usernameProblem } from '${contract}';`,
          `import { Kysely } from 'kysely';`,
          `import Fastify from 'fastify';`,
          `import { dictionary } from '@zxcvbn-ts/language-common';`,
          `import { createHash } from 'node:crypto';`,
          `console.log(UserSchema, usernameProblem, Kysely, Fastify, dictionary, createHash);`,
        ].join('\n'),
      );
      const { modules, code } = await buildInMemory({
        configFile: false,
        root: dir,
        build: { target: 'es2022', rolldownOptions: { input: entry } },
      });
      expect(serverCodeIn(code)).toEqual(
        expect.arrayContaining([
          'typebox (schemas at run time)',
          'kysely',
          'fastify',
          '@zxcvbn-ts password dictionary',
        ]),
      );
      const outside = modules
        .filter((id) => !isWebModule(id))
        .map((id) => (path.isAbsolute(id) ? path.relative(ROOT, id) : id));
      expect(outside).toEqual(
        expect.arrayContaining([
          path.join('src', 'api', 'auth.ts'),
          expect.stringMatching(/^node_modules\/typebox\//),
          expect.stringMatching(/^node_modules\/kysely\//),
          expect.stringMatching(/^node_modules\/fastify\//),
          expect.stringMatching(/^__vite-browser-external/),
        ]),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
