import { spawn } from 'node:child_process';
import path from 'node:path';

import { ensureBuilt, freePort, ROOT, stopProcess, waitUntilReady, type PodProcess } from '../../helpers/pod.js';

/** `pixa serve` as a child process in embedded mode, which the test can SIGKILL or SIGTERM. */
export interface ChildServer {
  url: string;
  process: PodProcess;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
  kill(): Promise<void>;
}

/**
 * Starts the built server (`node bin/pixa.js serve`) on a free port with its data under `dataDir`,
 * and resolves once /readyz answers 200. `env` adds PIXA_* variables.
 */
export async function startChildServer(dataDir: string, env: Record<string, string> = {}): Promise<ChildServer> {
  ensureBuilt();
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'pixa.js'), 'serve'], {
    env: {
      ...process.env,
      PIXA_DATA_DIR: dataDir,
      PIXA_PORT: String(port),
      PIXA_HOST: '127.0.0.1',
      PIXA_SWEEP_INTERVAL_MINUTES: '0',
      // Tests create many accounts from 127.0.0.1; the sign-up limit has its own test.
      PIXA_SIGNUP_PER_HOUR: '0',
      PIXA_LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const proc: PodProcess = { service: 'gateway', child, output: () => output, exited };
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilReady(url, [proc], 30_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    url,
    process: proc,
    stop: (graceMs = 20_000) => stopProcess(proc, graceMs),
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
