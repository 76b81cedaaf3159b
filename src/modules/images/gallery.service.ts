import type { Image, ImagePage } from '../../api/images.js';
import { notFound } from '../../lib/app-error.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { imageDtoMapper } from './image-dto.js';
import { createImageRemover } from './image-removal.js';
import * as images from './image.repository.js';
import type { ImageServiceDeps } from './image-service-deps.js';
import { ownedImageOrThrow } from './lookups.js';

export interface GalleryService {
  /** A page of the gallery (photos not in the trash); only favourites when `favorite`. */
  list(userId: string, limit: number, cursor: string | undefined, favorite?: boolean): Promise<ImagePage>;
  /** One photo of the gallery; one in the trash is a 404 here (the trash lists it). */
  get(userId: string, imageId: string): Promise<Image>;
  /** Deletes an image for good, in the trash or not (the original Pixa's delete, and the trash's own). */
  remove(userId: string, imageId: string): Promise<void>;
  /** Removes every image of an account (objects and rows), before the account itself is deleted. */
  removeAll(userId: string): Promise<number>;
}

/** The gallery: an account's images a page at a time, one image, and deleting them. */
export function createGalleryService(deps: Pick<ImageServiceDeps, 'db' | 'signer' | 'store' | 'now'>): GalleryService {
  const { db } = deps;
  const toDto = imageDtoMapper(deps.signer);

  const removeRow = createImageRemover(deps);

  return {
    async list(userId, limit, cursor, favorite) {
      const after = cursor === undefined ? undefined : decodeCursor(cursor);
      const rows = await images.listPage(db, userId, limit + 1, after, { favorite });
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        items: page.map((row) => toDto(row)),
        nextCursor: rows.length > limit && last ? encodeCursor({ takenAt: last.taken_at, id: last.id }) : null,
      };
    },

    async get(userId, imageId) {
      const row = await ownedImageOrThrow(db, userId, imageId);
      if (row.trashed_at !== null) throw notFound();
      return toDto(row);
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
