import { closeSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';

import pino, { type DestinationStream, type Logger } from 'pino';

import { redactText } from './redact.js';

export interface LoggerOptions {
  service: string;
  level: string;
  /** Also append the JSON lines to this file; `{service}` in it is replaced by the service name. */
  file?: string;
  /** Rotate the file when it would grow past this many bytes (default 10 MB). */
  maxFileBytes?: number;
  /** Rotated files kept beside the live one: `pixa.log.1` (newest) … `pixa.log.<n>`. */
  keepFiles?: number;
  /** Where the JSON lines go besides the file (default: stdout, see `stdoutDestination`). */
  destination?: DestinationStream;
}

const MB = 1024 * 1024;

/**
 * JSON-lines logs on stdout, each line tagged with its service, and optionally in a size-rotated
 * file (the original Pixa wrote `/mnt/<service>.log` on a shared volume). Credentials never reach a
 * log: authorization headers, the internal token and password fields are redacted, and URLs are
 * logged without their query string (signed media URLs carry their signature there). An error's
 * message and stack, and a message string, lose the credentials of any URL or connection string in
 * them (a driver may quote its connection URL).
 */
export function createLogger(options: LoggerOptions): Logger {
  const { service, level } = options;
  const settings: pino.LoggerOptions = {
    level,
    base: { service },
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'req.headers["x-pixa-internal-token"]',
        'password',
        'currentPassword',
        'newPassword',
        '*.password',
      ],
      censor: '[redacted]',
    },
    hooks: {
      logMethod(args, method) {
        // The message is the last string argument when an object comes first.
        const at = typeof args[0] === 'string' ? 0 : 1;
        if (typeof args[at] === 'string') args[at] = redactText(args[at]);
        return method.apply(this, args);
      },
    },
    serializers: {
      err: (error: Error) => {
        const serialized = pino.stdSerializers.err(error);
        serialized.message = redactText(serialized.message);
        if (serialized.stack) serialized.stack = redactText(serialized.stack);
        return serialized;
      },
      req: (req: { method: string; url: string; ip?: string; id?: string }) => ({
        method: req.method,
        url: req.url.split('?')[0],
        ip: req.ip,
      }),
    },
  };
  const out = options.destination ?? stdoutDestination();
  if (!options.file) return pino(settings, out);
  const file = rotatingFile(
    options.file.replaceAll('{service}', service),
    options.maxFileBytes ?? 10 * MB,
    options.keepFiles ?? 5,
  );
  return pino(
    settings,
    pino.multistream([
      { level: 'trace', stream: out },
      { level: 'trace', stream: file },
    ]),
  );
}

let droppedLines = 0;

/** Log lines this process could not write to stdout (reader gone, or too far behind); for /metrics. */
export function droppedLogLines(): number {
  return droppedLines;
}

export interface StdoutDestinationOptions {
  /** The descriptor to write to (default 1, stdout). */
  fd?: number;
  /** Lines waiting for a slow reader are dropped beyond this many bytes (default 4 MB). */
  maxQueuedBytes?: number;
}

/** A log destination that never blocks; `flushSync` makes one attempt and never waits. */
export interface NonBlockingDestination extends DestinationStream {
  flushSync(): void;
  /** Bytes waiting for the reader. */
  readonly queuedBytes: number;
  /** True once the reader has gone (EPIPE): every later line is dropped and counted. */
  readonly broken: boolean;
}

const RETRY_MS = 50;

/**
 * Stdout for logs, which must never hold up a request or a shutdown. pino's synchronous destination
 * sleeps and retries for as long as a write fails, so a log reader that has gone (a dead log shipper:
 * EPIPE) froze the process, grace timer included, for ever. Here a line is written at once when the
 * pipe takes it, queued (up to `maxQueuedBytes`) while the reader is behind, and dropped, and counted
 * in `droppedLogLines()`, when the queue is full or the reader is gone. Node makes a stdout pipe
 * non-blocking when it sets up `process.stdout`, so a full pipe answers EAGAIN instead of blocking.
 */
export function stdoutDestination(options: StdoutDestinationOptions = {}): NonBlockingDestination {
  if (options.fd === undefined && options.maxQueuedBytes === undefined) return (processStdout ??= openStdout());
  return nonBlockingDestination(options.fd ?? 1, options.maxQueuedBytes ?? 4 * MB);
}

/** Every logger of the process shares one stdout queue, so lines keep their order. */
let processStdout: NonBlockingDestination | undefined;

function openStdout(): NonBlockingDestination {
  // Touching process.stdout/stderr has Node open a pipe as non-blocking, and a listener turns a
  // reader that has gone (EPIPE) into dropped lines instead of an uncaught error.
  for (const [fd, stream] of [
    [1, process.stdout],
    [2, process.stderr],
  ] as const) {
    if (isPipe(fd)) stream.on('error', () => undefined);
  }
  const destination = nonBlockingDestination(1, 4 * MB);
  // The last lines (`stopped`, a fatal error) get one more try, which never waits.
  process.once('exit', () => destination.flushSync());
  return destination;
}

function nonBlockingDestination(fd: number, maxQueuedBytes: number): NonBlockingDestination {
  const queue: Buffer[] = [];
  let queuedBytes = 0;
  let broken = false;
  let retry: NodeJS.Timeout | undefined;

  function drop(lines: number): void {
    droppedLines += lines;
  }

  function giveUp(): void {
    broken = true;
    drop(queue.length);
    queue.length = 0;
    queuedBytes = 0;
    if (retry) clearTimeout(retry);
    retry = undefined;
  }

  /** Writes as much of the queue as the reader takes now; false when it must wait. */
  function drain(): boolean {
    while (queue.length > 0) {
      const chunk = queue[0]!;
      let written: number;
      try {
        written = writeSync(fd, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') return false;
        giveUp();
        return true;
      }
      queuedBytes -= written;
      if (written === chunk.length) queue.shift();
      else queue[0] = chunk.subarray(written);
    }
    return true;
  }

  function scheduleRetry(): void {
    if (retry || broken) return;
    retry = setTimeout(() => {
      retry = undefined;
      if (!drain()) scheduleRetry();
    }, RETRY_MS);
    // A queue for a reader that never comes back must not keep the process alive.
    retry.unref();
  }

  return {
    write(line: string): void {
      if (broken) return drop(1);
      const bytes = Buffer.from(line);
      if (queuedBytes + bytes.length > maxQueuedBytes) return drop(1);
      queue.push(bytes);
      queuedBytes += bytes.length;
      if (queue.length === 1 && !retry && !drain()) scheduleRetry();
    },
    flushSync(): void {
      if (!broken) drain();
    },
    get queuedBytes() {
      return queuedBytes;
    },
    get broken() {
      return broken;
    },
  };
}

function isPipe(fd: number): boolean {
  try {
    const stat = fstatSync(fd);
    return stat.isFIFO() || stat.isSocket();
  } catch {
    return false;
  }
}

/**
 * An append-only log file that is renamed to `.1` (older ones shifted up to `.<keep>`, the oldest
 * dropped) before a line would push it past `maxBytes`. Writes are synchronous, so a line is on disk
 * before the process can crash, which is what a log that must explain a crash needs.
 */
export function rotatingFile(file: string, maxBytes: number, keep: number): DestinationStream {
  mkdirSync(path.dirname(file), { recursive: true });
  let fd = openSync(file, 'a');
  let size = statSync(file).size;

  function rotate(): void {
    closeSync(fd);
    rmSync(`${file}.${keep}`, { force: true });
    for (let index = keep - 1; index >= 1; index--) {
      try {
        renameSync(`${file}.${index}`, `${file}.${index + 1}`);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    if (keep > 0) renameSync(file, `${file}.1`);
    else rmSync(file, { force: true });
    fd = openSync(file, 'a');
    size = 0;
  }

  return {
    write(line: string): void {
      const bytes = Buffer.byteLength(line);
      if (size > 0 && size + bytes > maxBytes) rotate();
      writeSync(fd, line);
      size += bytes;
    },
  };
}
