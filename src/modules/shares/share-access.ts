import { AppError } from '../../lib/app-error.js';
import { nextUtcMidnight, utcDay } from '../../lib/time.js';
import { findUserById, type UserRow } from '../auth/user.repository.js';
import { transferQuotaOf } from '../usage/quota.js';
import { transferOfDay } from '../usage/transfer.repository.js';
import type { ShareServiceDeps } from './share-deps.js';
import { hashShareKey, isShareKey, type ShareSeal } from './share-keys.js';
import { findAlbumOf, findShareByKeyHash, type ShareRow } from './share.repository.js';

/** A link a visitor may open now, with its owner. */
export interface OpenShare {
  row: ShareRow;
  owner: UserRow;
  seal: ShareSeal;
  /** The owner's daily transfer quota (0 = unlimited). */
  quota: number;
  /** The shared album, for a link to one. */
  album?: { title: string; description: string };
}

/** The one answer for an unknown, expired or revoked link: nothing tells them apart. */
export const noSuchLink = (): AppError =>
  new AppError('not_found', 404, 'This link does not exist or is no longer shared. Ask whoever sent it for a new one.');

/** The answer when the link's owner has used up today's transfer: the page can show the message as it is. */
export function ownerQuotaResting(at: number): AppError {
  const seconds = Math.max(1, Math.ceil((nextUtcMidnight(at) - at) / 1000));
  return new AppError(
    'owner_quota_resting',
    429,
    'These photos are resting until tomorrow: they have been viewed a lot today. Come back after 00:00 UTC.',
    { 'retry-after': String(seconds) },
  );
}

/** Whether the error is the owner's transfer quota refusing a charge. */
export const isTransferRefusal = (error: unknown): boolean =>
  error instanceof AppError && error.code === 'transfer_quota_exceeded';

export function shareAccess(deps: ShareServiceDeps) {
  const { db } = deps;
  const now = deps.now ?? Date.now;

  return {
    /** The link the key opens, or the same 404 for every reason it does not. */
    async resolve(key: string): Promise<OpenShare> {
      const row = isShareKey(key) ? await findShareByKeyHash(db, hashShareKey(key)) : undefined;
      if (!row || row.revoked_at !== null || (row.expires_at !== null && row.expires_at <= now())) throw noSuchLink();
      const owner = await findUserById(db, row.owner_id);
      if (!owner) throw noSuchLink();
      // A link to an album that was deleted shares nothing any more.
      const album = row.album_id === null ? undefined : await findAlbumOf(db, row.owner_id, row.album_id);
      if (row.album_id !== null && !album) throw noSuchLink();
      return {
        album,
        row,
        owner,
        seal: { shareId: row.id, passwordHash: row.password_hash },
        quota: transferQuotaOf(owner, deps.quotas),
      };
    },

    /** Throws owner_quota_resting when the owner's transfer of today has no byte left. */
    async assertNotResting(share: OpenShare): Promise<void> {
      if (share.quota <= 0) return;
      const at = now();
      const today = await transferOfDay(db, share.row.owner_id, utcDay(at));
      if (today.bytesIn + today.bytesOut >= share.quota) throw ownerQuotaResting(at);
    },
  };
}
