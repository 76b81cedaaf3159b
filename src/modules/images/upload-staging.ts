import { createHash } from 'node:crypto';
import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { newId } from '../../lib/ids.js';

/** Staging files of this process that an upload still holds: never stale, however old. */
const live = new Set<string>();

export interface StagedFile {
  path: string;
  sha256: string;
  size: number;
}

/**
 * Streams an upload into a temp file while hashing and counting it, so no upload is ever held
 * whole in memory. The temp file is removed if anything fails, the client aborting included.
 */
export async function stageToTempFile(source: Readable, tmpDir: string): Promise<StagedFile> {
  await mkdir(tmpDir, { recursive: true });
  // The writer's pid in the name lets a restart tell a dead process's leftovers from live uploads.
  const file = path.join(tmpDir, `${process.pid}.${newId()}.upload`);
  const hash = createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  // The file is opened before anything is piped: a write stream opening it lazily could create it
  // after a failed pipeline's clean-up had already run, leaving it behind.
  const handle = await open(file, 'wx');
  live.add(file);
  try {
    await pipeline(source, meter, handle.createWriteStream());
  } catch (error) {
    await handle.close().catch(() => undefined);
    await removeTempFile(file);
    throw error;
  }
  return { path: file, sha256: hash.digest('hex'), size };
}

export async function removeTempFile(file: string): Promise<void> {
  await rm(file, { force: true });
  live.delete(file);
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
