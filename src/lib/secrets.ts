import { constants } from 'node:fs';
import { copyFile, link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { randomSecret } from './ids.js';

/** Shorter than this, a kept secret is damaged (an interrupted first start) and is replaced. */
const MIN_LENGTH = 32;

/**
 * Returns the secret kept in `dataDir/name`, creating it once on first start, so embedded mode needs
 * no configuration and a restart keeps people signed in. The secret is written to a temp file first
 * and then linked into place, which fails if the name exists: the file is never seen empty or half
 * written, and two processes racing at first start agree on one value.
 */
export async function loadOrCreateSecret(dataDir: string, name: string): Promise<string> {
  const file = path.join(dataDir, name);
  await mkdir(dataDir, { recursive: true });
  const existing = await readSecret(file);
  if (existing !== undefined && existing.length >= MIN_LENGTH) return existing;

  const temp = `${file}.${process.pid}.${randomSecret(6)}.tmp`;
  await writeFile(temp, randomSecret(48), { mode: 0o600, flush: true });
  try {
    if (existing === undefined) {
      await link(temp, file).catch(async (error: NodeJS.ErrnoException) => {
        if (error.code === 'EEXIST') return;
        // Some network filesystems have no hard links: an exclusive copy is the next best thing.
        if (error.code !== 'EPERM' && error.code !== 'ENOTSUP' && error.code !== 'EOPNOTSUPP') throw error;
        await copyFile(temp, file, constants.COPYFILE_EXCL).catch((copyError: NodeJS.ErrnoException) => {
          if (copyError.code !== 'EEXIST') throw copyError;
        });
      });
    } else {
      await rename(temp, file);
    }
  } finally {
    await rm(temp, { force: true });
  }
  const secret = await readSecret(file);
  if (secret === undefined || secret.length < MIN_LENGTH) throw new Error(`${file} does not hold a usable secret`);
  return secret;
}

async function readSecret(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
