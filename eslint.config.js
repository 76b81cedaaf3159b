import js from '@eslint/js';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * The layers of the code (see README, "How the code is laid out"), as import rules: each entry is a
 * kind of import and the only places allowed to make it. A new import across a layer fails lint.
 */
const LAYER_RULES = {
  services: {
    group: ['**/services/**'],
    message: 'src/services is the top layer: only the entry points (app, main, cli) import it.',
    allowedIn: ['services', 'app', 'cli', 'main'],
  },
  http: {
    group: ['fastify', '@fastify/*', '**/http/**'],
    message: 'Domain, storage and helper code has no HTTP: take plain values, return plain values.',
    allowedIn: ['api', 'app', 'cli', 'clients', 'config', 'http', 'main', 'services'],
  },
  sharp: { group: ['sharp'], message: 'Only src/image/ runs sharp.', allowedIn: ['image'] },
  s3: { group: ['@aws-sdk/*'], message: 'Only the S3 driver imports the AWS SDK.', allowedIn: ['storage/s3'] },
  azure: {
    group: ['@azure/*'],
    message: 'Only the Azure Blob driver imports the Azure SDK.',
    allowedIn: ['storage/azure'],
  },
  kysely: {
    group: ['kysely'],
    allowTypeImports: true,
    message: 'Only src/db and *.repository.ts build queries; others take the Kysely type, or call a repository.',
    allowedIn: ['db', 'repository'],
  },
  server: {
    group: ['../**', '!../api/**'],
    message: 'The contract (src/api) imports nothing from the server: the web UI imports it.',
    allowedIn: [
      'app',
      'cli',
      'clients',
      'config',
      'db',
      'http',
      'image',
      'lib',
      'main',
      'modules',
      'services',
      'storage',
      'video',
    ],
  },
};

/** Where each layer's files are; a file's layer is the first that matches. */
const LAYERS = {
  repository: ['src/**/*.repository.ts'],
  'storage/s3': ['src/storage/s3/**'],
  'storage/azure': ['src/storage/azure/**'],
  storage: ['src/storage/**'],
  app: ['src/app.ts', 'src/app/**'],
  main: ['src/main.ts'],
  ...Object.fromEntries(
    ['api', 'cli', 'clients', 'config', 'db', 'http', 'image', 'lib', 'modules', 'services', 'video'].map((layer) => [
      layer,
      [`src/${layer}/**`],
    ]),
  ),
};

/** Repositories keep every rule of src/modules but Kysely's; a store driver, those of src/storage but its SDK's. */
const layerOf = (layer) =>
  layer === 'repository' ? ['repository', 'modules'] : layer.startsWith('storage/') ? [layer, 'storage'] : [layer];

const layerBlocks = Object.entries(LAYERS)
  .reverse()
  .map(([layer, files]) => ({
    files,
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: Object.values(LAYER_RULES)
            .filter((rule) => !layerOf(layer).some((name) => rule.allowedIn.includes(name)))
            .map(({ allowedIn: _allowedIn, ...pattern }) => pattern),
        },
      ],
    },
  }));

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'web/dist/', 'data/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read configuration through src/config only.' },
      ],
    },
  },
  // Later blocks win for the same file, so the most specific layer (repositories) comes last.
  ...layerBlocks,
  {
    files: ['src/config/**', 'test/**', 'bench/**', 'scripts/**', 'vitest.config.ts', 'web/**'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    files: ['web/src/**'],
    languageOptions: { globals: { ...globals.browser } },
  },
  // Svelte components and rune modules: the Svelte parser for the markup, typescript-eslint's for <script lang="ts">.
  ...svelte.configs.recommended,
  {
    files: ['web/**/*.svelte', 'web/**/*.svelte.ts'],
    languageOptions: {
      globals: { ...globals.browser },
      parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] },
    },
  },
  // The browser takes from the server only the contract's types and its credential rules, which import
  // nothing: a schema would bring TypeBox into the bundle (test/browser/web-sources.test.ts checks it).
  {
    files: ['web/src/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./)+src/(?!api/)',
              message: 'The web takes nothing from the server but its contract, src/api.',
            },
            {
              regex: '^(\\.\\./)+src/api/(?!credential-rules\\.js$)',
              allowTypeImports: true,
              message: 'Only types from src/api (import type): its schemas would put TypeBox in the bundle.',
            },
            {
              group: ['node:*', 'typebox', 'kysely', 'fastify', '@fastify/*', '@zxcvbn-ts/*'],
              message: 'Server libraries stay out of the browser.',
            },
          ],
        },
      ],
    },
  },
);
