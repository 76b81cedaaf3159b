import type { CreatedShare, CreateShare, Share, ShareList, UpdateShare } from '../../api/shares.js';
import { inTransaction } from '../../db/transaction.js';
import { AppError, notFound } from '../../lib/app-error.js';
import { newId } from '../../lib/ids.js';
import { toIso } from '../../lib/time.js';
import { hashPassword } from '../auth/password.js';
import { isImageId } from '../images/media-url.js';
import type { ShareServiceDeps } from './share-deps.js';
import { hashShareKey, newShareKey } from './share-keys.js';
import * as shares from './share.repository.js';

/** What an owner does with their links. */
export interface ShareService {
  createShare(ownerId: string, input: CreateShare): Promise<CreatedShare>;
  listShares(ownerId: string): Promise<ShareList>;
  updateShare(ownerId: string, shareId: string, input: UpdateShare): Promise<Share>;
  /** Ends the link at once: it answers 404 from then on, like one that never existed. */
  revokeShare(ownerId: string, shareId: string): Promise<void>;
}

export const shareNotFound = (): AppError => notFound('Share link');

export function createShareService(deps: ShareServiceDeps): ShareService {
  const { db } = deps;
  const now = deps.now ?? Date.now;

  const toDto = (row: shares.ShareWithCount): Share => ({
    id: row.id,
    albumId: row.album_id,
    imageCount: row.image_count,
    title: row.title,
    description: row.description,
    createdAt: toIso(row.created_at),
    expiresAt: row.expires_at === null ? null : toIso(row.expires_at),
    expired: row.expires_at !== null && row.expires_at <= now(),
    hasPassword: row.password_hash !== null,
    allowDownload: row.allow_download === 1,
    showMetadata: row.show_metadata === 1,
    showOwner: row.show_owner === 1,
    viewCount: row.view_count,
    lastAccessAt: row.last_access_at === null ? null : toIso(row.last_access_at),
  });

  async function owned(ownerId: string, shareId: string): Promise<shares.ShareWithCount> {
    const row = isImageId(shareId) ? await shares.findOwnedShare(db, ownerId, shareId) : undefined;
    if (!row) throw shareNotFound();
    return row;
  }

  /** A future expiry in epoch ms; one already past is a mistake worth saying so. */
  function expiryOf(expiresAt: string): number {
    const at = Date.parse(expiresAt);
    if (!(at > now())) {
      throw new AppError(
        'validation_failed',
        400,
        'The expiry must be in the future. Leave it out for a link that never expires.',
      );
    }
    return at;
  }

  return {
    async createShare(ownerId, input) {
      if ((input.albumId === undefined) === (input.imageIds === undefined)) {
        throw new AppError(
          'validation_failed',
          400,
          'Share either an album (albumId) or photos (imageIds), not both or neither.',
        );
      }
      const albumId = input.albumId ?? null;
      const ids = [...new Set(input.imageIds ?? [])];
      if (!ids.every(isImageId)) throw notFound();
      if (albumId !== null && !(isImageId(albumId) && (await shares.findAlbumOf(db, ownerId, albumId)))) {
        throw notFound('Album');
      }
      const expiresAt = input.expiresAt === undefined ? null : expiryOf(input.expiresAt);
      const passwordHash = input.password === undefined ? null : await hashPassword(input.password);
      const key = newShareKey();
      const row: shares.ShareRow = {
        id: newId(),
        owner_id: ownerId,
        key_hash: hashShareKey(key),
        album_id: albumId,
        title: input.title ?? null,
        description: input.description ?? null,
        created_at: now(),
        expires_at: expiresAt,
        revoked_at: null,
        password_hash: passwordHash,
        allow_download: input.allowDownload ? 1 : 0,
        show_metadata: input.showMetadata ? 1 : 0,
        show_owner: input.showOwner ? 1 : 0,
        view_count: 0,
        last_access_at: null,
      };
      await inTransaction(db, async (trx) => {
        // Every photo must be the owner's (and not in the trash): another account's id is 404, and
        // nothing is created.
        const found = await shares.findOwnedImages(trx, ownerId, ids, { live: true });
        if (found.length !== ids.length) throw notFound();
        await shares.insertShare(trx, row, ids);
      });
      return { ...toDto(await owned(ownerId, row.id)), url: `/s/${key}` };
    },

    async listShares(ownerId) {
      return { items: (await shares.listOwnedShares(db, ownerId)).map(toDto) };
    },

    async updateShare(ownerId, shareId, input) {
      await owned(ownerId, shareId);
      const changes: Parameters<typeof shares.updateShare>[3] = {};
      if (input.title !== undefined) changes.title = input.title;
      if (input.description !== undefined) changes.description = input.description;
      if (input.expiresAt !== undefined)
        changes.expires_at = input.expiresAt === null ? null : expiryOf(input.expiresAt);
      if (input.password !== undefined) {
        changes.password_hash = input.password === null ? null : await hashPassword(input.password);
      }
      if (input.allowDownload !== undefined) changes.allow_download = input.allowDownload ? 1 : 0;
      if (input.showMetadata !== undefined) changes.show_metadata = input.showMetadata ? 1 : 0;
      if (input.showOwner !== undefined) changes.show_owner = input.showOwner ? 1 : 0;
      if (!(await shares.updateShare(db, ownerId, shareId, changes))) throw shareNotFound();
      return toDto(await owned(ownerId, shareId));
    },

    async revokeShare(ownerId, shareId) {
      if (!isImageId(shareId) || !(await shares.revokeShare(db, ownerId, shareId, now()))) throw shareNotFound();
    },
  };
}
