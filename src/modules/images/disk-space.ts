import { statfs } from 'node:fs/promises';
import path from 'node:path';

/** Bytes an unprivileged process may still write on the filesystem holding `dir` (or its nearest existing parent). */
export async function freeBytes(dir: string): Promise<number> {
  let at = path.resolve(dir);
  for (;;) {
    try {
      const stats = await statfs(at);
      return stats.bavail * stats.bsize;
    } catch (error) {
      const parent = path.dirname(at);
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || parent === at) throw error;
      at = parent;
    }
  }
}

/** The local directories whose free space matters, by the label metrics and readiness use. */
export type WatchedDirs = Readonly<Record<string, string>>;

/**
 * Throws, naming each directory and what is left, when any of `dirs` has less than `floorBytes`
 * free (0 = never): uploads there would fail with 507, so the replica should get no new ones.
 */
export async function assertFreeSpace(dirs: WatchedDirs, floorBytes: number): Promise<void> {
  if (floorBytes <= 0) return;
  const low: string[] = [];
  for (const [label, dir] of Object.entries(dirs)) {
    const free = await freeBytes(dir);
    if (free < floorBytes) low.push(`${label} (${dir}) has ${Math.floor(free / 1024 / 1024)} MB free`);
  }
  if (low.length > 0) throw new Error(`low disk space: ${low.join('; ')}`);
}
