import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';

/** Where the programs are and the bounds every run of them gets (PIXA_FFMPEG_*, PIXA_FFPROBE_PATH). */
export interface VideoTools {
  ffmpegPath: string;
  ffprobePath: string;
  /** A run still going after this long is killed. */
  timeoutMs: number;
  /** Address space a run may use, applied with prlimit(1) when it is installed. */
  memoryBytes: number;
}

const PRLIMIT = '/usr/bin/prlimit';

let tools: VideoTools = {
  ffmpegPath: '/usr/bin/ffmpeg',
  ffprobePath: '/usr/bin/ffprobe',
  timeoutMs: 30 * 60 * 1000,
  memoryBytes: 1024 * 1024 * 1024,
};
let available: Promise<boolean> | undefined;
let prlimit: Promise<boolean> | undefined;

/** Sets the programs and bounds for this process; whether they exist is checked again on next use. */
export function configureVideoTools(settings: VideoTools): void {
  tools = { ...settings };
  available = undefined;
}

export const videoTools = (): Readonly<VideoTools> => tools;

const executable = (file: string): Promise<boolean> =>
  access(file, constants.X_OK).then(
    () => true,
    () => false,
  );

/** Whether both ffmpeg and ffprobe can be run here (checked once per configuration). */
export function videoToolsAvailable(): Promise<boolean> {
  available ??= Promise.all([executable(tools.ffmpegPath), executable(tools.ffprobePath)]).then(([a, b]) => a && b);
  return available;
}

/** A run that failed: its exit, or the limit that stopped it, with the end of what it wrote to stderr. */
export class ToolRunError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
    readonly reason: 'exit' | 'timeout' | 'aborted' | 'output',
  ) {
    super(message);
    this.name = 'ToolRunError';
  }
}

export interface RunOptions {
  /** Stops the run (SIGKILL) when aborted: a job whose lease was lost. */
  signal?: AbortSignal;
  /** Most bytes kept of stdout; a run writing more is killed (a poster frame, a probe's JSON). */
  maxOutputBytes?: number;
  timeoutMs?: number;
}

/**
 * Runs ffmpeg or ffprobe with an argument array (no shell, so nothing in a value is interpreted),
 * stdin closed, under the time limit and, when prlimit exists, the address-space limit. Callers pass
 * only paths Pixa made itself (staging and job files), prefixed `file:`, with
 * `-protocol_whitelist file,pipe` so that nothing inside a file can make ffmpeg open a network URL.
 */
export async function runTool(program: 'ffmpeg' | 'ffprobe', args: string[], options: RunOptions = {}) {
  const path = program === 'ffmpeg' ? tools.ffmpegPath : tools.ffprobePath;
  prlimit ??= executable(PRLIMIT);
  const limited = await prlimit;
  const command = limited ? PRLIMIT : path;
  const argv = limited ? [`--as=${tools.memoryBytes}`, '--', path, ...args] : args;
  const maxOutput = options.maxOutputBytes ?? 1024 * 1024;
  const timeoutMs = options.timeoutMs ?? tools.timeoutMs;

  return new Promise<Buffer>((resolve, reject) => {
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    const out: Buffer[] = [];
    let outBytes = 0;
    let stderr = '';
    let stopped: ToolRunError['reason'] | undefined;
    const stop = (reason: ToolRunError['reason']) => {
      stopped ??= reason;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => stop('timeout'), timeoutMs);
    const onAbort = () => stop('aborted');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) stop('aborted');

    child.stdout.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > maxOutput) stop('output');
      else out.push(chunk);
    });
    // Only the end of stderr is kept: it says why a run failed.
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4000);
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      reject(new ToolRunError(`${program} could not be started: ${error.message}`, stderr, 'exit'));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (stopped) {
        reject(new ToolRunError(`${program} was stopped (${stopped})`, stderr, stopped));
      } else if (code !== 0) {
        reject(new ToolRunError(`${program} failed (${signal ?? `exit ${code}`})`, stderr, 'exit'));
      } else resolve(Buffer.concat(out));
    });
  });
}

/** The argument naming a file Pixa made: never read as a URL or an option, whatever the name holds. */
export const fileArg = (file: string): string => `file:${file}`;
