import { closeSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';

import pino, { type DestinationStream, type Logger } from 'pino';

export interface LoggerOptions {
  service: string;
  level: string;
  /** Also append the JSON lines to this file; `{service}` in it is replaced by the service name. */
  file?: string;
  /** Rotate the file when it would grow past this many bytes (default 10 MB). */
  maxFileBytes?: number;
  /** Rotated files kept beside the live one: `pixa.log.1` (newest) … `pixa.log.<n>`. */
  keepFiles?: number;
}

const MB = 1024 * 1024;

/**
 * JSON-lines logs on stdout, each line tagged with its service, and optionally in a size-rotated
 * file (the original Pixa wrote `/mnt/<service>.log` on a shared volume). Credentials never reach a
 * log: authorization headers, the internal token and password fields are redacted, and URLs are
 * logged without their query string (signed media URLs carry their signature there).
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
    serializers: {
      req: (req: { method: string; url: string; ip?: string; id?: string }) => ({
        method: req.method,
        url: req.url.split('?')[0],
        ip: req.ip,
      }),
    },
  };
  if (!options.file) return pino(settings);
  const file = rotatingFile(
    options.file.replaceAll('{service}', service),
    options.maxFileBytes ?? 10 * MB,
    options.keepFiles ?? 5,
  );
  return pino(
    settings,
    pino.multistream([
      { level: 'trace', stream: pino.destination(1) },
      { level: 'trace', stream: file },
    ]),
  );
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
