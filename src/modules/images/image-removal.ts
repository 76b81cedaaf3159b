import { inTransaction } from '../../db/transaction.js';
import { releaseStorage } from '../auth/user.repository.js';
import { appendEvents } from '../usage/storage-event.repository.js';
import { objectEvents, objectKey } from './image-objects.js';
import * as images from './image.repository.js';
import type { ImageServiceDeps } from './image-service-deps.js';

/** Deletes one image for good: true only for the caller whose delete took the row. */
export type ImageRemover = (
  userId: string,
  row: images.ImageRow,
  condition?: images.DeleteCondition,
) => Promise<boolean>;

/**
 * Deleting an image for good: its row (if still there and meeting `condition`), its storage and its
 * delete events in one transaction, then its objects. Only the caller whose conditional delete took
 * the row frees the storage and removes the objects, so racing deletes (two tabs, two replicas'
 * sweepers) never free the same bytes twice.
 */
export function createImageRemover(deps: Pick<ImageServiceDeps, 'db' | 'store' | 'now'>): ImageRemover {
  const { db, store } = deps;
  const now = deps.now ?? Date.now;
  return async (userId, row, condition = {}) => {
    const at = now();
    const deleted = await inTransaction(db, async (trx) => {
      if (!(await images.deleteImageRow(trx, userId, row.id, condition))) return false;
      await releaseStorage(trx, userId, images.storedBytes(row));
      await appendEvents(trx, objectEvents(row, at, 'delete', 204));
      return true;
    });
    if (!deleted) return false;
    // The row is gone first, so nobody can reach the objects; if removing them fails, the sweeper will.
    await Promise.allSettled(
      (['original', 'thumbnail', 'preview'] as const).map((v) => store.delete(objectKey(row, v))),
    );
    return true;
  };
}
