import type { Emptied, Restored, TrashPage } from '../../api/trash.js';
import { notFound } from '../../lib/app-error.js';
import { toIso } from '../../lib/time.js';
import { albumIdsOfImages } from '../albums/album.repository.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { imageDtoMapper } from './image-dto.js';
import { createImageRemover } from './image-removal.js';
import * as images from './image.repository.js';
import type { ImageServiceDeps } from './image-service-deps.js';
import { distinctImageIds, ownedImageOrThrow, photosNotFound } from './lookups.js';

export const DEFAULT_TRASH_DAYS = 30;
const DAY_MS = 86_400_000;
/** Rows one step of emptying or purging reads at a time. */
const BATCH = 200;

export interface TrashService {
  /** Moves a photo of the gallery to the trash (or deletes it for good when the trash is off). */
  trash(userId: string, imageId: string): Promise<void>;
  /** The trash, most recently trashed first, a page at a time, each with when it will be purged. */
  listTrash(userId: string, limit: number, cursor: string | undefined): Promise<TrashPage>;
  /** Brings photos back to the gallery (and their albums); any id not the caller's photo is a 404, nothing changed. */
  restore(userId: string, ids: readonly string[]): Promise<Restored>;
  /** Deletes one photo of the trash for good. */
  deleteForGood(userId: string, imageId: string): Promise<void>;
  /** Deletes every photo of the caller's trash for good. */
  emptyTrash(userId: string): Promise<Emptied>;
}

/** What the sweeper runs: purging what has been in the trash longer than PIXA_TRASH_DAYS. */
export interface TrashPurge {
  /** Deletes for good every photo trashed more than the trash days ago; answers how many this call deleted. */
  purgeExpiredTrash(): Promise<number>;
}

/**
 * The trash: a state of an image (`trashed_at`), not a copy. A trashed photo keeps its objects, its
 * storage charge and its album memberships until it is restored or purged.
 */
export function createTrashService(
  deps: ImageServiceDeps,
  forgetImage: (imageId: string) => void = () => undefined,
): TrashService & TrashPurge {
  const { db } = deps;
  const now = deps.now ?? Date.now;
  const trashDays = deps.trashDays ?? DEFAULT_TRASH_DAYS;
  const toDto = imageDtoMapper(deps.signer);
  const removeRow = createImageRemover(deps);

  async function remove(userId: string, row: images.ImageRow, condition: images.DeleteCondition): Promise<boolean> {
    try {
      return await removeRow(userId, row, condition);
    } finally {
      forgetImage(row.id);
    }
  }

  /** Deletes for good the rows `next` finds, batch after batch, until it finds none. */
  async function removeAll(next: () => Promise<images.ImageRow[]>, condition: images.DeleteCondition): Promise<number> {
    let removed = 0;
    for (;;) {
      const rows = await next();
      // A row another request deleted or restored meanwhile is simply not counted.
      for (const row of rows) if (await remove(row.owner_id, row, condition)) removed += 1;
      if (rows.length < BATCH) return removed;
    }
  }

  return {
    async trash(userId, imageId) {
      const row = await ownedImageOrThrow(db, userId, imageId);
      if (row.trashed_at !== null) throw notFound();
      if (trashDays === 0) {
        if (!(await remove(userId, row, {}))) throw notFound();
        return;
      }
      if (!(await images.trashImage(db, userId, imageId, now()))) throw notFound();
    },

    async listTrash(userId, limit, cursor) {
      const raw = cursor === undefined ? undefined : decodeCursor(cursor);
      const after = raw && { trashedAt: raw.takenAt, id: raw.id };
      const rows = await images.listTrashPage(db, userId, limit + 1, after);
      const page = rows.slice(0, limit);
      const albums = await albumIdsOfImages(
        db,
        page.map((row) => row.id),
      );
      const last = page[page.length - 1];
      return {
        items: page.map((row) => {
          const trashedAt = row.trashed_at ?? 0;
          return {
            ...toDto(row, albums.get(row.id)),
            trashedAt: toIso(trashedAt),
            purgeAt: toIso(trashedAt + trashDays * DAY_MS),
          };
        }),
        nextCursor: rows.length > limit && last ? encodeCursor({ takenAt: last.trashed_at ?? 0, id: last.id }) : null,
      };
    },

    async restore(userId, ids) {
      const wanted = distinctImageIds(ids);
      const owned = await images.ownedIds(db, userId, wanted, { withTrash: true });
      const missing = wanted.filter((id) => !owned.has(id));
      if (missing.length > 0) throw photosNotFound(missing);
      return { restored: await images.restoreImages(db, userId, wanted) };
    },

    async deleteForGood(userId, imageId) {
      const row = await ownedImageOrThrow(db, userId, imageId);
      if (row.trashed_at === null || !(await remove(userId, row, { trashedOnly: true }))) throw notFound();
    },

    async emptyTrash(userId) {
      const deleted = await removeAll(() => images.listTrashed(db, userId, Number.MAX_SAFE_INTEGER, BATCH), {
        trashedOnly: true,
      });
      return { deleted };
    },

    async purgeExpiredTrash() {
      const cutoff = now() - trashDays * DAY_MS;
      // Only rows still trashed before the cutoff: one restored meanwhile stays.
      return removeAll(() => images.listTrashed(db, undefined, cutoff, BATCH), { trashedUpTo: cutoff });
    },
  };
}
