import { createHash } from 'node:crypto';
import { mkdir, open, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';

import { AppError } from '../../lib/app-error.js';
import { newId } from '../../lib/ids.js';
import { outOfSpace } from '../images/upload-errors.js';
import { isOutOfSpace } from '../images/out-of-space.js';

/** The bytes of one PATCH, on local disk and fsynced. */
export interface ReceivedPart {
  file: string;
  size: number;
  /** SHA-256 of the bytes, base64 (as tus's Upload-Checksum carries it). */
  sha256: string;
  /** Set when the body ended early (the client's connection was cut): what came is still here. */
  interrupted?: unknown;
}

/**
 * Writes a PATCH body to a file in `tmpDir` while hashing it, at most `maxBytes` (more is a 413 and
 * nothing is kept). A body cut midway is not an error here: every byte that arrived is written and
 * fsynced, and the caller decides whether to keep it. The file is named like the upload staging
 * files (`<pid>.<id>.upload`), so a restart's clean-up removes those of a process that died.
 */
export async function receivePart(body: Readable, tmpDir: string, maxBytes: number): Promise<ReceivedPart> {
  const file = path.join(tmpDir, `${process.pid}.${newId()}.upload`);
  const hash = createHash('sha256');
  let size = 0;
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
      for await (const chunk of body as AsyncIterable<Buffer>) {
        if (size + chunk.length > maxBytes) {
          body.destroy();
          throw new AppError(
            'upload_too_long',
            413,
            `This request sends more than the ${maxBytes} bytes the upload still expects; nothing of it was kept.`,
          );
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
    throw isOutOfSpace(error) ? outOfSpace(error) : error;
  }
  return { file, size, sha256: hash.digest('base64'), interrupted };
}

export const removePartFile = (file: string): Promise<void> => rm(file, { force: true });
