import { readFile } from 'node:fs/promises';

import { describe, expect, test } from 'vitest';

import { ENV_VARS } from '../../src/config/config.js';

const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  test('gives the two set-up commands', () => {
    expect(readme).toContain('npm install && npm start');
    expect(readme).toContain('npm test');
  });

  test.each(Object.keys(ENV_VARS))('documents %s in the configuration table', (name) => {
    expect(readme).toMatch(new RegExp(`^\\| \`${name}\`\\s+\\|`, 'm'));
  });

  test('documents no variable the program does not read', () => {
    const documented = [...readme.matchAll(/^\| `(PIXA?_[A-Z_]+)`\s+\|/gm)].map((match) => match[1]);
    expect(documented.filter((name) => !(name! in ENV_VARS))).toEqual([]);
  });
});
