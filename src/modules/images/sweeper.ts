import type { Kysely } from 'kysely';

import type { DB } from '../../db/tables.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { prefixExists } from './image.repository.js';
import { ownerIsKnown } from './sweeper.repository.js';

export interface SweepReport {
  /** Objects removed because no image row refers to them. */
  orphans: string[];
  /** Leftovers of interrupted writes removed by the store (temp files, aborted multipart uploads). */
  incomplete: number;
}

/**
 * Time an upload may spend after its last byte arrived (decoding, writing the objects) before it
 * must start its commit; past it the upload gives up instead of committing objects the sweeper may
 * already consider orphans.
 */
export const UPLOAD_PROCESSING_GRACE_MS = 10 * 60 * 1000;
/** What the window adds on top: the commit itself, and clocks of the store and of Pixa that differ. */
const SWEEP_MARGIN_MS = 5 * 60 * 1000;

/**
 * How old an object without a row must be before the sweeper removes it. An upload's objects are
 * never older than the request (the original keeps its staging file's time: it is linked, not
 * copied), the request lasts at most `requestTimeoutMs`, and its commit starts within
 * UPLOAD_PROCESSING_GRACE_MS after that. So anything older belongs to no upload still in flight.
 */
export const sweepSafetyWindowMs = (requestTimeoutMs: number): number =>
  requestTimeoutMs + UPLOAD_PROCESSING_GRACE_MS + SWEEP_MARGIN_MS;

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
/** The only keys Pixa writes: `<owner id>/<image id>/original|thumb.webp|preview.webp|playback.mp4`, lower-case UUIDs. */
const PIXA_KEY = new RegExp(`^(${UUID})/(${UUID})/(?:original|thumb\\.webp|preview\\.webp|playback\\.mp4)$`);

/** The owner and object prefix of a key Pixa's layout can produce, or undefined for anything else. */
export function parsePixaKey(key: string): { ownerId: string; prefix: string } | undefined {
  const match = PIXA_KEY.exec(key);
  return match ? { ownerId: match[1]!, prefix: `${match[1]}/${match[2]}/` } : undefined;
}

/**
 * Removes objects that no image row refers to, once they are older than `safetyWindowMs`: an upload
 * writes its objects before its row, so younger objects may belong to an upload still in flight.
 * Such orphans are left by a crash between the two steps, by a delete whose object removal failed,
 * or by a commit whose outcome was unknown and turned out rolled back.
 *
 * The store's root may be shared (a bucket without a prefix, a network share, another deployment of
 * Pixa on the same bucket), so only keys of Pixa's own layout whose owner this database knows (an
 * account, or one that had events logged) are candidates; everything else is never touched.
 */
export async function sweepOrphans(
  db: Kysely<DB>,
  store: ObjectStore,
  safetyWindowMs: number,
  now = Date.now(),
): Promise<SweepReport> {
  const cutoff = now - safetyWindowMs;
  const orphans: string[] = [];
  const owners = new Map<string, boolean>();
  const prefixes = new Map<string, boolean>();
  for await (const object of store.list('')) {
    const parsed = parsePixaKey(object.key);
    if (!parsed || object.modifiedAt > cutoff) continue;
    let ours = owners.get(parsed.ownerId);
    if (ours === undefined) {
      ours = await ownerIsKnown(db, parsed.ownerId);
      owners.set(parsed.ownerId, ours);
    }
    if (!ours) continue;
    let exists = prefixes.get(parsed.prefix);
    if (exists === undefined) {
      exists = await prefixExists(db, parsed.prefix);
      prefixes.set(parsed.prefix, exists);
    }
    if (!exists) {
      await store.delete(object.key);
      orphans.push(object.key);
    }
  }
  const incomplete = await store.cleanupIncomplete(safetyWindowMs);
  return { orphans, incomplete };
}
