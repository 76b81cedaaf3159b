import { createHash } from 'node:crypto';
import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { newId } from '../../lib/ids.js';
import { outOfSpace, stagingFull } from './upload-errors.js';
import { isOutOfSpace } from './out-of-space.js';

/**
 * Disk the staging files of all uploads of this process may take together (`PIXA_STAGING_MB`):
 * the staging directory is often small (a Kubernetes emptyDir with a size limit, the disk SQLite is
 * on), and parallel uploads of many large files must not fill it.
 */
export interface StagingBudget {
  /** 0 = unlimited. */
  readonly limitBytes: number;
  /** Bytes staged now. */
  used(): number;
  /** Takes `bytes` from the budget; false (and nothing taken) when they do not fit. */
  tryReserve(bytes: number): boolean;
  release(bytes: number): void;
}

export function createStagingBudget(limitBytes: number): StagingBudget {
  let used = 0;
  return {
    limitBytes,
    used: () => used,
    tryReserve(bytes) {
      if (limitBytes > 0 && used + bytes > limitBytes) return false;
      used += bytes;
      return true;
    },
    release(bytes) {
      used = Math.max(0, used - bytes);
    },
  };
}

/** Staging files of this process that an upload still holds (never stale, however old), and what they reserved. */
const live = new Map<string, { budget: StagingBudget | undefined; reserved: number }>();

export interface StagedFile {
  path: string;
  sha256: string;
  size: number;
}

export interface StageOptions {
  budget?: StagingBudget;
  /**
   * Told the size of every chunk before it is written; what it throws stops reading and fails the
   * staging (the daily transfer quota, enforced while the bytes arrive).
   */
  onChunk?: (bytes: number) => void;
}

/**
 * Streams an upload into a temp file while hashing and counting it, so no upload is ever held
 * whole in memory. The temp file is removed if anything fails, the client aborting included. A full
 * staging budget is a 503 with Retry-After, a full disk a 507: neither is the client's fault, and
 * both pass.
 */
export async function stageToTempFile(
  source: Readable,
  tmpDir: string,
  options: StageOptions = {},
): Promise<StagedFile> {
  const { budget, onChunk } = options;
  // The writer's pid in the name lets a restart tell a dead process's leftovers from live uploads.
  const file = path.join(tmpDir, `${process.pid}.${newId()}.upload`);
  const entry = { budget, reserved: 0 };
  const hash = createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      try {
        onChunk?.(chunk.length);
        if (budget && !budget.tryReserve(chunk.length)) throw stagingFull();
      } catch (error) {
        callback(error as Error);
        return;
      }
      if (budget) entry.reserved += chunk.length;
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  let handle;
  try {
    await mkdir(tmpDir, { recursive: true });
    // The file is opened before anything is piped: a write stream opening it lazily could create it
    // after a failed pipeline's clean-up had already run, leaving it behind.
    handle = await open(file, 'wx');
  } catch (error) {
    throw isOutOfSpace(error) ? outOfSpace(error) : error;
  }
  live.set(file, entry);
  try {
    await pipeline(source, meter, handle.createWriteStream());
  } catch (error) {
    await handle.close().catch(() => undefined);
    await removeTempFile(file);
    throw isOutOfSpace(error) ? outOfSpace(error) : error;
  }
  return { path: file, sha256: hash.digest('hex'), size };
}

/** Removes a staging file and gives back what it took of the staging budget. */
export async function removeTempFile(file: string): Promise<void> {
  try {
    await rm(file, { force: true });
  } finally {
    const entry = live.get(file);
    live.delete(file);
    entry?.budget?.release(entry.reserved);
  }
}

/**
 * Removes staging files that no upload will finish: those of processes that no longer run (a crash
 * or SIGKILL mid-upload), and any older than `olderThanMs` that no upload of this process holds
 * (a request may last longer than any fixed age). Returns how many it removed.
 */
export async function removeStaleStagingFiles(tmpDir: string, olderThanMs: number, now = Date.now()): Promise<number> {
  let names: string[];
  try {
    names = await readdir(tmpDir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    const match = /^(\d+)\..*\.upload$/.exec(name);
    if (!match && !name.endsWith('.upload')) continue;
    const file = path.join(tmpDir, name);
    if (live.has(file)) continue;
    const pid = match ? Number(match[1]) : undefined;
    const orphaned = pid !== undefined && pid !== process.pid && !isRunning(pid);
    const info = await stat(file).catch(() => undefined);
    if (info && (orphaned || now - info.mtimeMs > olderThanMs)) {
      await rm(file, { force: true });
      removed++;
    }
  }
  return removed;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
