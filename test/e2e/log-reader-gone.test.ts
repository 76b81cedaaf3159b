import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { ensureBuilt, freePort, ROOT } from '../helpers/pod.js';

const BIN = path.join(ROOT, 'bin', 'pixa.js');

describe('pixa serve › the log reader goes away', () => {
  let dataDir: string;
  beforeAll(async () => {
    ensureBuilt();
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'pixa-epipe-'));
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  test('stdout and stderr closed, then SIGTERM › the server still stops and exits 0', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [BIN, 'serve'], {
      env: {
        ...process.env,
        PIXA_DATA_DIR: dataDir,
        PIXA_HOST: '127.0.0.1',
        PIXA_PORT: String(port),
        PIXA_LOG_LEVEL: 'debug',
        PIXA_SHUTDOWN_GRACE_SECONDS: '5',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let output = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('"msg":"listening"')) resolve();
      });
      child.once('exit', () => reject(new Error(`pixa serve exited during start-up:\n${output}`)));
    });

    // The log shipper dies: nobody reads stdout or stderr any more.
    child.stdout!.destroy();
    child.stderr!.destroy();
    // Requests are logged too: they must be answered while every line is being dropped.
    for (let index = 0; index < 20; index++) {
      const response = await fetch(`http://127.0.0.1:${port}/api/v1/images`);
      expect(response.status).toBe(401);
    }
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const dropped = Number(/^pixa_log_lines_dropped_total (\d+)/m.exec(metrics)?.[1]);
    expect(dropped).toBeGreaterThan(0);

    child.kill('SIGTERM');
    // A hung process is killed after the test's own limit, and that is the failure.
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await exited;
    clearTimeout(killer);

    expect(code).toBe(0);
  }, 60_000);
});
