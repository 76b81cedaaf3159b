import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { envMarkdownTable } from '../../src/config/env-schema.js';
import { ensureBuilt, runPixa } from '../helpers/pod.js';

describe('the pixa command', () => {
  let dataDir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    ensureBuilt();
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'pixa-cli-'));
    env = { PIXA_DATA_DIR: dataDir, PIXA_LOG_LEVEL: 'warn' };
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  test.each([
    ['an unknown command', ['user', 'creat', 'bob'], /^Usage: pixa/m],
    ['an unknown option', ['user', 'list', '--storage', '5'], /Unknown option '--storage'/],
    ['a quota that is not a number', ['user', 'set-quota', 'bob', '--storage-mb', 'abc'], /not "abc"/],
    ['set-quota without a quota', ['user', 'set-quota', 'bob'], /give --storage-mb and\/or --transfer-mb/],
  ])('%s › exit 2 with a message, no stack trace, and nothing opened', async (_case, args, message) => {
    const { status, output } = runPixa(args, env);

    expect(status).toBe(2);
    expect(output).toMatch(message);
    expect(output).not.toMatch(/\n\s+at /);
    expect(await readdir(dataDir)).toEqual([]);
  });

  test('help env › every variable with its default; --markdown is the README table', async () => {
    const listed = runPixa(['help', 'env'], env);
    expect(listed.status).toBe(0);
    expect(listed.output).toMatch(/^ {2}PIXA_DB_POOL_SIZE +Connections per process .* \(default: 10\)$/m);
    const markdown = runPixa(['help', 'env', '--markdown'], env);
    expect(markdown.output).toBe(envMarkdownTable());
    expect(await readFile(new URL('../../README.md', import.meta.url), 'utf8')).toContain(markdown.output);
  });

  test('a bad storage URL › refused before anything is opened, its secret not printed', async () => {
    const bad = 's4://photos?accessKeyId=AKIAEXAMPLE&secretAccessKey=wJalrXUtnFEMIK7MDENG';
    const { status, output } = runPixa(['serve'], { ...env, PIXA_STORAGE_URL: bad });
    expect(status).toBe(1);
    expect(output).toContain('PIXA_STORAGE_URL must start with file://, s3:// or azure://');
    expect(output).not.toMatch(/wJalrXUtnFEMIK7MDENG|AKIAEXAMPLE/);
    expect(await readdir(dataDir)).toEqual([]);
  });

  test('create an account, set its quota, list it', () => {
    const created = runPixa(['user', 'create', 'bob', '--password', 'correct horse battery'], env);
    expect([created.status, created.output]).toEqual([0, expect.stringMatching(/created user bob/)]);

    const quota = runPixa(['user', 'set-quota', 'bob', '--storage-mb', '5'], env);
    expect([quota.status, quota.output]).toEqual([0, expect.stringMatching(/updated quotas of bob/)]);

    const listed = runPixa(['user', 'list'], env);
    expect(listed.output).toMatch(/bob\s+user\s+0\.0 MB of 5\.0 MB \(own\)/);

    const missing = runPixa(['user', 'set-quota', 'nobody', '--storage-mb', '5'], env);
    expect([missing.status, missing.output]).toEqual([1, expect.stringMatching(/no account named nobody/)]);
  });
});
