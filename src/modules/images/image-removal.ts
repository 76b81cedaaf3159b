import { VARIANTS } from '../../api/images.js';
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
  return async (userId, known, condition = {}) => {
    const at = now();
    let row: images.ImageRow | undefined = known;
    // A video's playback copy may be recorded between the read and the delete: then the delete takes
    // nothing and the row is read again, so exactly the bytes it holds are freed.
    for (let attempt = 0; row && attempt < 5; attempt++) {
      const current: images.ImageRow = row;
      const deleted = await inTransaction(db, async (trx) => {
        const taken = await images.deleteImageRow(trx, userId, current.id, {
          ...condition,
          playbackBytes: current.playback_bytes,
        });
        if (!taken) return false;
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
      // Gone, or there but not meeting the condition (restored meanwhile): nothing to delete.
      if (row?.playback_bytes === current.playback_bytes) return false;
    }
    return false;
  };
}
