import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, test } from 'vitest';

import { createLogger, droppedLogLines, rotatingFile, stdoutDestination } from '../../src/lib/logger.js';

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

  test('logger › credentials in an error or a message are hidden, the rest of the URL kept', async () => {
    const logger = createLogger({ service: 'storage', level: 'info', file: path.join(dir, '{service}.log') });
    const error = new Error('cannot open mysql://pixa:hunter2@db:3306/pixa');
    logger.error({ err: error }, 'store s3://photos?region=eu&secretAccessKey=wJalrXUtnFEMI failed');
    const text = await readFile(path.join(dir, 'storage.log'), 'utf8');
    const line = JSON.parse(text.trim().split('\n').at(-1)!) as { msg: string; err: { message: string } };
    expect(line.msg).toBe('store s3://photos?region=eu&secretAccessKey=*** failed');
    expect(line.err.message).toBe('cannot open mysql://pixa:***@db:3306/pixa');
    expect(text).not.toMatch(/hunter2|wJalrXUtnFEMI/);
  });
});

describe('stdout for logs', () => {
  /** A real pipe whose reader is `sleep`: it never reads, and killing it closes the pipe. */
  function stalledPipe() {
    const reader = spawn('sleep', ['600'], { stdio: ['pipe', 'ignore', 'ignore'] });
    const fd = (reader.stdin as unknown as { _handle: { fd: number } })._handle.fd;
    const gone = new Promise((resolve) => reader.once('exit', resolve));
    return { fd, reader, gone };
  }

  test('a reader that is behind › lines queue up to the bound, then are dropped and counted', async () => {
    const { fd, reader, gone } = stalledPipe();
    const destination = stdoutDestination({ fd, maxQueuedBytes: 256 * 1024 });
    try {
      const before = droppedLogLines();
      const line = `${'x'.repeat(1023)}\n`;
      // 2 MB into a 64 KB pipe nobody reads: a blocking write would never return.
      for (let index = 0; index < 2048; index++) destination.write(line);
      expect(destination.queuedBytes).toBeGreaterThan(0);
      expect(destination.queuedBytes).toBeLessThanOrEqual(256 * 1024);
      expect(droppedLogLines() - before).toBeGreaterThan(1000);
      destination.flushSync(); // returns: one attempt, no waiting
    } finally {
      reader.kill('SIGKILL');
      await gone;
      // The queue's retry timer must end here: once the pipe's descriptor is closed, its number is
      // reused by the next file opened, and a late retry would write these lines into that file.
      destination.flushSync();
    }
    expect(destination.broken).toBe(true);
  });

  test('a reader that has gone › every line is dropped and counted, nothing throws or waits', async () => {
    const { fd, reader, gone } = stalledPipe();
    const destination = stdoutDestination({ fd });
    destination.write('before\n');
    reader.kill('SIGKILL');
    await gone;
    const before = droppedLogLines();
    for (let index = 0; index < 100; index++) destination.write(`line ${index}\n`);
    destination.flushSync();
    expect(destination.broken).toBe(true);
    expect(droppedLogLines() - before).toBe(100);
  });

  test('a logger given the destination › writes JSON lines through it', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pixa-stdout-'));
    const file = path.join(dir, 'out.log');
    const fd = openSync(file, 'w');
    try {
      const logger = createLogger({ service: 'auth', level: 'info', destination: stdoutDestination({ fd }) });
      logger.info('through the queue');
      // The destination never waits for the write, so the line lands a moment later.
      let text = '';
      for (let attempt = 0; attempt < 100 && !text.includes('\n'); attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 20));
        text = await readFile(file, 'utf8');
      }
      const line = JSON.parse(text.trim()) as Record<string, unknown>;
      expect(line).toMatchObject({ service: 'auth', msg: 'through the queue' });
    } finally {
      closeSync(fd);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
