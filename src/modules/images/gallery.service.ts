import { VARIANTS, type Image, type ImagePage } from '../../api/images.js';
import { notFound } from '../../lib/app-error.js';
import { inTransaction } from '../../db/transaction.js';
import { releaseStorage } from '../auth/user.repository.js';
import { appendEvents } from '../usage/storage-event.repository.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { imageDtoMapper } from './image-dto.js';
import { objectEvents, objectKey } from './image-objects.js';
import * as images from './image.repository.js';
import type { ImageServiceDeps } from './image-service-deps.js';
import { ownedImageOrThrow } from './lookups.js';

export interface GalleryService {
  list(userId: string, limit: number, cursor: string | undefined): Promise<ImagePage>;
  get(userId: string, imageId: string): Promise<Image>;
  remove(userId: string, imageId: string): Promise<void>;
  /** Removes every image of an account (objects and rows), before the account itself is deleted. */
  removeAll(userId: string): Promise<number>;
}

/** The gallery: an account's images a page at a time, one image, and deleting them. */
export function createGalleryService(deps: ImageServiceDeps): GalleryService {
  const { db, store } = deps;
  const now = deps.now ?? Date.now;
  const toDto = imageDtoMapper(deps.signer);

  /** Deletes an image's row, frees its storage, then its objects; false when the row was gone already. */
  async function removeRow(userId: string, known: images.ImageRow): Promise<boolean> {
    const at = now();
    let row: images.ImageRow | undefined = known;
    // A video's playback copy may be recorded between the read and the delete: then the row is read
    // again, so exactly the bytes it holds are freed.
    for (let attempt = 0; row && attempt < 5; attempt++) {
      const current: images.ImageRow = row;
      const deleted = await inTransaction(db, async (trx) => {
        if (!(await images.deleteImageRow(trx, userId, current.id, current.playback_bytes))) return false;
        await releaseStorage(trx, userId, images.storedBytes(current));
        await appendEvents(trx, objectEvents(current, at, 'delete', 204));
        return true;
      });
      if (deleted) {
        // The row is gone first, so nobody can reach the objects; if removing them fails, the sweeper will.
        await Promise.allSettled(VARIANTS.map((v) => store.delete(objectKey(current, v))));
        return true;
      }
      row = await images.findOwnedImage(db, userId, current.id);
    }
    return false;
  }

  return {
    async list(userId, limit, cursor) {
      const after = cursor === undefined ? undefined : decodeCursor(cursor);
      const rows = await images.listPage(db, userId, limit + 1, after);
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        items: page.map(toDto),
        nextCursor: rows.length > limit && last ? encodeCursor({ takenAt: last.taken_at, id: last.id }) : null,
      };
    },

    async get(userId, imageId) {
      return toDto(await ownedImageOrThrow(db, userId, imageId));
    },

    async remove(userId, imageId) {
      if (!(await removeRow(userId, await ownedImageOrThrow(db, userId, imageId)))) throw notFound();
    },

    async removeAll(userId) {
      // An image deleted meanwhile (another tab) is simply not counted.
      let removed = 0;
      for (const row of await images.listAllOfOwner(db, userId)) if (await removeRow(userId, row)) removed += 1;
      return removed;
    },
  };
}
