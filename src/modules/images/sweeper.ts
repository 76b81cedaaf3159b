import type { Kysely } from 'kysely';

import type { DB } from '../../db/tables.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { prefixExists } from './image.repository.js';

export interface SweepReport {
  /** Objects removed because no image row refers to them. */
  orphans: string[];
  /** Leftovers of interrupted writes removed by the store (temp files, aborted multipart uploads). */
  incomplete: number;
}

/**
 * Removes objects that no image row refers to, once they are older than `safetyWindowMs`: an upload
 * writes its objects before its row, so younger objects may belong to an upload still in flight.
 * Such orphans are left by a crash between the two steps, or by a delete whose object removal failed.
 */
export async function sweepOrphans(
  db: Kysely<DB>,
  store: ObjectStore,
  safetyWindowMs: number,
  now = Date.now(),
): Promise<SweepReport> {
  const cutoff = now - safetyWindowMs;
  const orphans: string[] = [];
  const known = new Map<string, boolean>();
  for await (const object of store.list('')) {
    const parts = object.key.split('/');
    if (parts.length < 3 || object.modifiedAt > cutoff) continue;
    const prefix = `${parts[0]}/${parts[1]}/`;
    let exists = known.get(prefix);
    if (exists === undefined) {
      exists = await prefixExists(db, prefix);
      known.set(prefix, exists);
    }
    if (!exists) {
      await store.delete(object.key);
      orphans.push(object.key);
    }
  }
  const incomplete = await store.cleanupIncomplete(safetyWindowMs);
  return { orphans, incomplete };
}
