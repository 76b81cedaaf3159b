// A Pixa server as a child process (`node bin/pixa.js serve`), the way it runs in production, so its
// CPU and memory are its own and not mixed with the load generator's.
import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

import { ROOT } from './paths.js';

/** A TCP port nothing listens on right now. */
export async function freePort() {
  const server = net.createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Environment every benchmark server gets: no quotas in the way, no sweeper, loopback only. */
export function baseEnv(dataDir, port) {
  return {
    PIXA_DATA_DIR: dataDir,
    PIXA_PORT: String(port),
    PIXA_HOST: '127.0.0.1',
    PIXA_STORAGE_QUOTA_MB: '0',
    PIXA_DAILY_TRANSFER_MB: '0',
    PIXA_SWEEP_INTERVAL_MINUTES: '0',
    PIXA_SIGNUP_PER_HOUR: '0',
  };
}

/**
 * Starts one process (on one core when `core` is given) and waits until `readyUrl` answers. The process logs to `<dataDir>/<name>.log`
 * (at Pixa's default level unless the caller says otherwise), which is shown if it fails to start.
 */
export async function startProcess({
  name,
  command = process.execPath,
  args,
  env,
  dataDir,
  readyUrl,
  cpuProfileDir,
  core,
  cwd = ROOT,
  timeoutMs = 30_000,
}) {
  await mkdir(dataDir, { recursive: true });
  const logFile = path.join(dataDir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  const nodeArgs = cpuProfileDir
    ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`, `--cpu-prof-name=${name}.cpuprofile`]
    : [];
  // Pinned through taskset, which execs the command: the pid is the server's, its children inherit the core.
  const argv = [...nodeArgs, ...args];
  const child = spawn(
    core === undefined ? command : '/usr/bin/taskset',
    core === undefined ? argv : ['-c', String(core), command, ...argv],
    {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', fd, fd],
    },
  );
  closeSync(fd);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const logTail = () => {
    try {
      return readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '';
    }
  };

  const deadline = Date.now() + timeoutMs;
  let early;
  exited.then((result) => (early = result));
  for (;;) {
    if (early) throw new Error(`${name} exited (${early.code ?? early.signal}) before it was ready:\n${logTail()}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} was not ready within ${timeoutMs / 1000} s:\n${logTail()}`);
    }
    if (await answers(readyUrl)) break;
    await sleep(100);
  }

  return {
    name,
    pid: child.pid,
    logFile,
    logTail,
    exited,
    /** SIGTERM, as Kubernetes would; SIGKILL after 15 s. Resolves when the process has exited. */
    async stop() {
      if (early) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function answers(url) {
  if (url.startsWith('tcp://')) {
    const { hostname, port } = new URL(url);
    return new Promise((resolve) => {
      const socket = net.connect(Number(port), hostname);
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
  }
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

/**
 * `node bin/pixa.js serve` on a free port with its own data directory (SQLite + file store by default),
 * from this tree or from `root`, another built checkout (`--compare`).
 */
export async function startPixa({ dataDir, env = {}, cpuProfileDir, name = 'pixa', args = [], core, root = ROOT }) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = await startProcess({
    name,
    args: [path.join(root, 'bin', 'pixa.js'), 'serve', ...args],
    env: { ...baseEnv(dataDir, port), ...env },
    dataDir,
    readyUrl: `${url}/healthz`,
    cpuProfileDir,
    core,
    cwd: root,
  });
  return { ...proc, url, port, dataDir };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
