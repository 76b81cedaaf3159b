import js from '@eslint/js';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import tseslint from 'typescript-eslint';

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
