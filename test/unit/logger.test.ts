import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, test } from 'vitest';

import { createLogger, rotatingFile } from '../../src/lib/logger.js';

describe('log file', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'pixa-logs-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('rotation › keeps the live file under the limit and the newest rotated files, dropping the oldest', async () => {
    const file = path.join(dir, 'auth.log');
    const stream = rotatingFile(file, 100, 2);
    for (let line = 0; line < 20; line++) stream.write(`${String(line).padStart(2, '0')} ${'x'.repeat(26)}\n`);
    expect((await readdir(dir)).sort()).toEqual(['auth.log', 'auth.log.1', 'auth.log.2']);
    const [live, newest, older] = await Promise.all(['', '.1', '.2'].map((suffix) => readFile(file + suffix, 'utf8')));
    for (const content of [live, newest, older]) expect(Buffer.byteLength(content!)).toBeLessThanOrEqual(100);
    // 20 lines of 30 bytes, 3 per file: the live file holds the last two, .1 the three before.
    expect(live!.split('\n')[0]!.slice(0, 2)).toBe('18');
    expect(newest!.split('\n')[0]!.slice(0, 2)).toBe('15');
    expect(older!.split('\n')[0]!.slice(0, 2)).toBe('12');
  });

  test('logger › writes JSON lines to the file named for its service, with secrets redacted', async () => {
    const logger = createLogger({ service: 'storage', level: 'info', file: path.join(dir, '{service}.log') });
    logger.info({ req: { method: 'GET', url: '/x?sig=secret', headers: {} }, password: 'hunter2' }, 'hello');
    const lines = (await readFile(path.join(dir, 'storage.log'), 'utf8')).trim().split('\n');
    const line = JSON.parse(lines.at(-1)!) as Record<string, unknown>;
    expect(line).toMatchObject({ service: 'storage', msg: 'hello', password: '[redacted]', req: { url: '/x' } });
  });
});
