import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { newId } from '../../lib/ids.js';

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
  const file = path.join(tmpDir, `${newId()}.upload`);
  const hash = createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  try {
    await pipeline(source, meter, createWriteStream(file, { flags: 'wx' }));
  } catch (error) {
    await rm(file, { force: true });
    throw error;
  }
  return { path: file, sha256: hash.digest('hex'), size };
}

export const removeTempFile = (file: string): Promise<void> => rm(file, { force: true });
