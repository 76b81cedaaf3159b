import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { SERVICE_NAMES, SERVICES, type ServiceName } from '../../src/config/service-table.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin', 'pixa.js');

/** One Pixa process of a pod, started from the built `bin/pixa.js`. */
export interface PodProcess {
  service: ServiceName;
  child: ChildProcess;
  /** Everything it printed so far (JSON log lines). */
  output(): string;
  exited: Promise<number | null>;
}

export interface StartedPod {
  /** e.g. http://127.0.0.1:41234 */
  gatewayUrl: string;
  ports: Record<ServiceName, number>;
  internalToken: string;
  /** The environment every process got, for `pixa` admin commands against the same pod. */
  env: Record<string, string>;
  dataDir: string;
  processes: Record<ServiceName, PodProcess>;
  /** Parsed JSON log lines of one service. */
  logLines(service: ServiceName): Record<string, unknown>[];
  /** SIGTERM to every process, SIGKILL to any still running after `graceMs`; removes the data dir. */
  stop(graceMs?: number): Promise<void>;
}

export interface PodOptions {
  /** Extra environment: database and storage URLs, quotas. */
  env?: Record<string, string>;
  /** Ports to use (a cluster gives each replica its own set); free ones otherwise. */
  ports?: Record<ServiceName, number>;
  /** Shared secrets (all replicas of a cluster must share them); generated otherwise. */
  secrets?: { authSecretKey: string; internalToken: string };
  dataDir?: string;
}

/**
 * Ports for test servers come from below Linux's ephemeral range (32768 and up), which the OS uses
 * for `listen(0)` and for the local end of every outgoing connection. A port picked there, released
 * and bound a second later by a child process can be taken in between by any connection the tests
 * running beside it make; a port from this range cannot.
 */
const TEST_PORTS = { first: 20_000, count: 12_000 } as const;
const handedOut = new Set<number>();

/** A TCP port nothing listens on, from a range the OS does not hand out itself. */
export async function freePort(): Promise<number> {
  return freePortBlock(1);
}

/** The first of `count` consecutive such ports (a cluster gives each replica a block of its own). */
export async function freePortBlock(count: number): Promise<number> {
  for (let tries = 0; tries < 100; tries++) {
    const first = TEST_PORTS.first + Math.floor(Math.random() * (TEST_PORTS.count - count));
    const ports = Array.from({ length: count }, (_, offset) => first + offset);
    if (ports.some((port) => handedOut.has(port))) continue;
    if (!(await Promise.all(ports.map(canListen))).every(Boolean)) continue;
    for (const port of ports) handedOut.add(port);
    return first;
  }
  throw new Error(`no ${count} free ports in a row for test servers`);
}

/** Whether a server could listen on `port` (on every address, as the pod's internal services do). */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}

export async function freePorts(): Promise<Record<ServiceName, number>> {
  const ports = {} as Record<ServiceName, number>;
  for (const name of SERVICE_NAMES) ports[name] = await freePort();
  return ports;
}

/** Builds dist/ when it is missing (`npm test` builds before vitest runs; a lone vitest run may not). */
export function ensureBuilt(): void {
  if (existsSync(path.join(ROOT, 'dist', 'cli', 'pixa.js'))) return;
  const result = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) throw new Error('building dist/ failed');
}

/** Runs a `pixa` command (e.g. `migrate`) with the given environment and waits for it. */
export function runPixa(args: string[], env: Record<string, string>): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/**
 * The five services as five processes in pod mode, as in one Kubernetes pod: `pixa serve --services
 * <name>` each, on their own ports, talking over HTTP on 127.0.0.1. SQLite and the file store in a
 * temp dir unless `env` names other backends. Resolves once the gateway's /readyz says every
 * service is reachable.
 */
export async function startPod(options: PodOptions = {}): Promise<StartedPod> {
  ensureBuilt();
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'pixa-pod-')));
  const ports = options.ports ?? (await freePorts());
  const secrets = options.secrets ?? {
    authSecretKey: randomBytes(32).toString('base64url'),
    internalToken: randomBytes(32).toString('base64url'),
  };
  const env: Record<string, string> = {
    PIXA_MODE: 'pod',
    PIXA_HOST: '127.0.0.1',
    PIXA_INTERNAL_HOST: '127.0.0.1',
    PIXA_DATA_DIR: dataDir,
    PIXA_AUTH_SECRET_KEY: secrets.authSecretKey,
    PIXA_INTERNAL_TOKEN: secrets.internalToken,
    PIXA_SWEEP_INTERVAL_MINUTES: '0',
    // Tests create many accounts from 127.0.0.1; the sign-up limit has its own test.
    PIXA_SIGNUP_PER_HOUR: '0',
    PIXA_SHUTDOWN_GRACE_SECONDS: '20',
    PIXA_LOG_LEVEL: 'info',
    ...Object.fromEntries(SERVICE_NAMES.map((name) => [SERVICES[name].envPort, String(ports[name])])),
    ...options.env,
  };
  // One migration up front, so five processes do not race to create the tables.
  const migrated = runPixa(['migrate'], env);
  if (migrated.status !== 0) throw new Error(`pixa migrate failed:\n${migrated.output}`);
  env.PIXA_AUTO_MIGRATE = 'false';

  const processes = {} as Record<ServiceName, PodProcess>;
  for (const service of SERVICE_NAMES) processes[service] = spawnService(service, env);

  const pod: StartedPod = {
    gatewayUrl: `http://127.0.0.1:${ports.gateway}`,
    ports,
    internalToken: secrets.internalToken,
    env,
    dataDir,
    processes,
    logLines: (service) => parseLines(processes[service].output()),
    async stop(graceMs = 20_000) {
      await Promise.all(Object.values(processes).map((proc) => stopProcess(proc, graceMs)));
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
  try {
    await waitUntilReady(pod.gatewayUrl, Object.values(processes), 90_000);
  } catch (error) {
    await pod.stop(1000);
    throw error;
  }
  return pod;
}

function spawnService(service: ServiceName, env: Record<string, string>): PodProcess {
  const child = spawn(process.execPath, [BIN, 'serve', '--services', service], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { service, child, output: () => output, exited };
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
export async function stopProcess(proc: PodProcess, graceMs: number): Promise<number | null> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return proc.child.exitCode;
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), graceMs);
  const code = await proc.exited;
  clearTimeout(timer);
  return code;
}

/** Polls `<url>/readyz` until it answers 200; fails at once, with its output, if a process exits. */
export async function waitUntilReady(url: string, processes: PodProcess[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = processes.find((proc) => proc.child.exitCode !== null || proc.child.signalCode !== null);
    if (dead) throw new Error(`${dead.service} exited during start-up:\n${dead.output()}`);
    try {
      const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      const outputs = processes.map((proc) => `--- ${proc.service}\n${proc.output().slice(-2000)}`);
      throw new Error(`the pod was not ready within ${timeoutMs} ms\n${outputs.join('\n')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function parseLines(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        return {};
      }
    });
}
