// The serving load generator: wrk (Debian's `wrk`), a native client, pinned to a core of its own.
//
// Why wrk: a Node client (autocannon) on the same two cores tops out near 3,000 to 8,000 requests/s
// for a small body, so it measured itself rather than nginx or Pixa. wrk's one thread sends ~10× that
// here, is packaged by Debian (`apt-get install -y wrk`), and its Lua `done` hook hands back the
// figures as JSON without slowing the request loop (a `response` hook would). `oha` is not packaged
// by Debian 12 and h2load speaks HTTP/2 first, which neither nginx's config here nor Pixa serve.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const WRK_PATHS = ['/usr/bin/wrk', '/usr/local/bin/wrk'];
const TASKSET = '/usr/bin/taskset';

const DONE_SCRIPT = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"durationUs":%d,"bytes":%d,"status":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"p50Us":%d,"p99Us":%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`;

/** The wrk binary, or undefined with the reason. */
export function findWrk() {
  return WRK_PATHS.find((p) => existsSync(p));
}

export const WRK_MISSING = 'wrk is not installed (apt-get install -y wrk)';

/**
 * Which cores the load generator and the server run on: with two cores or more, the client gets
 * core 0 and every server core 1 (all its threads, libuv's pool included), so neither steals the
 * other's time; on one core nothing is pinned and the table says so.
 */
export function corePlan() {
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  const pinnable = cores >= 2 && existsSync(TASKSET);
  return pinnable
    ? { client: 0, server: 1, label: `wrk on core 0, servers on core 1 (taskset), ${cores} cores` }
    : {
        client: undefined,
        server: undefined,
        label: `not pinned (${cores} core(s)${existsSync(TASKSET) ? '' : ', no taskset'})`,
      };
}

/** Pins every thread of a running process to one core (threads it starts later inherit it). */
export function pinProcess(pid, core) {
  if (core === undefined) return;
  execFileSync(TASKSET, ['-a', '-cp', String(core), String(pid)], { stdio: 'ignore' });
}

let scriptPath;

/**
 * One wrk run: `-t1 -c<connections> -d<duration>s`, pinned to `core`. Returns requests/s, latency
 * percentiles in ms (wrk records microseconds), bytes/s and the errors it counted: `status` is the
 * number of answers outside 2xx/3xx, so a run that answered errors is never reported as fast.
 */
export async function runWrk({ url, headers = {}, connections = 32, duration = 6, core }) {
  const wrk = findWrk();
  if (!wrk) throw new Error(WRK_MISSING);
  if (!scriptPath) {
    scriptPath = path.join(os.tmpdir(), `pixa-bench-wrk-${process.pid}.lua`);
    await writeFile(scriptPath, DONE_SCRIPT);
  }
  const args = ['-t1', `-c${connections}`, `-d${duration}s`, '-s', scriptPath];
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`);
  args.push(url);
  const [command, argv] = core === undefined ? [wrk, args] : [TASKSET, ['-c', String(core), wrk, ...args]];
  const output = await new Promise((resolve, reject) => {
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (out += chunk));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`wrk exited ${code}: ${out.slice(-500)}`)),
    );
  });
  const line = output.split('\n').find((l) => l.startsWith('WRK_RESULT '));
  if (!line) throw new Error(`wrk printed no result: ${output.slice(-500)}`);
  const r = JSON.parse(line.slice('WRK_RESULT '.length));
  const seconds = r.durationUs / 1e6;
  return {
    rps: r.requests / seconds,
    total: r.requests,
    bytesPerSecond: r.bytes / seconds,
    p50: r.p50Us / 1000,
    p99: r.p99Us / 1000,
    badStatus: r.status,
    socketErrors: r.connect + r.read + r.write + r.timeout,
  };
}
