import { createHash } from 'node:crypto';
import { mkdir, open, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';

import { AppError } from '../../lib/app-error.js';
import { newId } from '../../lib/ids.js';
import { outOfSpace, stagingFull } from '../images/upload-errors.js';
import { isOutOfSpace } from '../images/out-of-space.js';
import type { StagingBudget } from '../images/upload-staging.js';

/** The bytes of one PATCH, on local disk and fsynced. */
export interface ReceivedPart {
  file: string;
  size: number;
  /** SHA-256 of the bytes, base64 (as tus's Upload-Checksum carries it). */
  sha256: string;
  /** Set when the body ended early (the client's connection was cut): what came is still here. */
  interrupted?: unknown;
  /** Gives the file's bytes back to the staging budget; `removePartFile` calls it. */
  release: () => void;
}

/**
 * Writes a PATCH body to a file in `tmpDir` while hashing it, at most `maxBytes` (more is a 413 and
 * nothing is kept). A body cut midway is not an error here: every byte that arrived is written and
 * fsynced, and the caller decides whether to keep it. The file is named like the upload staging
 * files (`<pid>.<id>.upload`), so a restart's clean-up removes those of a process that died. Its
 * bytes take their share of `budget`, the disk all uploads in progress may use (PIXA_STAGING_MB):
 * a full one is a 503 with Retry-After, and nothing of the PATCH is kept.
 */
export async function receivePart(
  body: Readable,
  tmpDir: string,
  maxBytes: number,
  budget?: StagingBudget,
): Promise<ReceivedPart> {
  const file = path.join(tmpDir, `${process.pid}.${newId()}.upload`);
  const hash = createHash('sha256');
  let size = 0;
  let reserved = 0;
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    budget?.release(reserved);
  };
  let handle;
  try {
    await mkdir(tmpDir, { recursive: true });
    handle = await open(file, 'wx');
  } catch (error) {
    throw isOutOfSpace(error) ? outOfSpace(error) : error;
  }
  let interrupted: unknown;
  try {
    try {
      // A refusal leaves the rest of the body unread but the request whole: destroying it would reset
      // the connection before the client reads the answer (the HTTP layer drains or lingers instead).
      for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
        if (size + chunk.length > maxBytes) {
          throw new AppError(
            'upload_too_long',
            413,
            `This request sends more than the ${maxBytes} bytes the upload still expects; nothing of it was kept.`,
          );
        }
        if (budget) {
          if (!budget.tryReserve(chunk.length)) throw stagingFull();
          reserved += chunk.length;
        }
        await handle.write(chunk);
        hash.update(chunk);
        size += chunk.length;
      }
    } catch (error) {
      if (error instanceof AppError || isOutOfSpace(error)) throw error;
      interrupted = error ?? new Error('request body ended early');
    }
    await handle.sync();
    await handle.close();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(file, { force: true });
    release();
    throw isOutOfSpace(error) ? outOfSpace(error) : error;
  }
  return { file, size, sha256: hash.digest('base64'), interrupted, release };
}

/** Removes a received part's file and gives its bytes back to the staging budget. */
export async function removePartFile(part: ReceivedPart): Promise<void> {
  try {
    await rm(part.file, { force: true });
  } finally {
    part.release();
  }
}
