import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { randomSecret } from './ids.js';

/**
 * Returns the secret kept in `dataDir/name`, creating it once on first start, so embedded mode needs
 * no configuration and a restart keeps people signed in. `wx` makes two processes racing at first
 * start agree on one value.
 */
export async function loadOrCreateSecret(dataDir: string, name: string): Promise<string> {
  const file = path.join(dataDir, name);
  await mkdir(dataDir, { recursive: true });
  try {
    await writeFile(file, randomSecret(48), { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  return (await readFile(file, 'utf8')).trim();
}
