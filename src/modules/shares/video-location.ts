import { buffer } from 'node:stream/consumers';

import { LRUCache } from 'lru-cache';

import type { ObjectStore } from '../../storage/object-store.js';
import { findLocationBoxes, Mp4LocationRefusal, MP4_LOCATION_STRIPPABLE } from '../../video/mp4-location.js';
import { objectKey } from '../images/image-objects.js';
import type { ImageRow } from '../images/image.repository.js';

/** Videos whose boxes to rename are remembered: a player asks for many ranges of one file. */
const REMEMBERED = 1000;

/** Whether a video's original is a container whose location boxes can be renamed (MP4, MOV). */
export const canStripVideo = (row: Pick<ImageRow, 'kind' | 'media_type'>): boolean =>
  row.kind === 'video' && (MP4_LOCATION_STRIPPABLE as readonly string[]).includes(row.media_type);

/** The offsets of a video original's type fields to rename `free`, or why its boxes cannot be walked. */
export type LocationBoxes = (row: ImageRow) => Promise<number[] | Mp4LocationRefusal>;

/**
 * findLocationBoxes over the store, remembered per original (its id and content hash, so a cached
 * answer can never describe other bytes). The reads are not charged: nothing of them is sent.
 */
export function createLocationBoxes(store: ObjectStore): LocationBoxes {
  const known = new LRUCache<string, Promise<number[] | Mp4LocationRefusal>>({ max: REMEMBERED });
  return (row) => {
    const cacheKey = `${row.id}/${row.sha256}`;
    let found = known.get(cacheKey);
    if (!found) {
      const key = objectKey(row, 'original');
      const size = row.original_bytes;
      const read = async (start: number, length: number) =>
        length === 0 ? Buffer.alloc(0) : buffer(await store.get(key, { start, end: start + length - 1 }, size));
      found = findLocationBoxes(read, size).catch((error: unknown) => {
        if (error instanceof Mp4LocationRefusal) return error;
        // A store failure is not remembered: the next request tries again.
        known.delete(cacheKey);
        throw error;
      });
      known.set(cacheKey, found);
    }
    return found;
  };
}
