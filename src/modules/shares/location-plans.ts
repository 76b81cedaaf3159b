import { buffer } from 'node:stream/consumers';

import { LRUCache } from 'lru-cache';

import {
  heifLocationPatches,
  LOCATION_PATCHABLE,
  type BytePatch,
  type ReadFileBytes,
} from '../../image/location-strip.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { findLocationBoxes, Mp4LocationRefusal, MP4_LOCATION_STRIPPABLE } from '../../video/mp4-location.js';
import { objectKey } from '../images/image-objects.js';
import type { ImageRow } from '../images/image.repository.js';

/** Originals whose plans are remembered: a player asks for many ranges of one file. */
const REMEMBERED = 1000;

/** Whether a video's original is a container whose location boxes can be renamed (MP4, MOV). */
export const canStripVideo = (row: Pick<ImageRow, 'kind' | 'media_type'>): boolean =>
  row.kind === 'video' && (MP4_LOCATION_STRIPPABLE as readonly string[]).includes(row.media_type);

/** Whether a photo's original is a HEIC/HEIF whose Exif item can be patched in place. */
export const canPatchHeif = (row: Pick<ImageRow, 'kind' | 'media_type'>): boolean =>
  row.kind !== 'video' && (LOCATION_PATCHABLE as readonly string[]).includes(row.media_type);

/**
 * How to serve an original without its location, for formats where that is decided before the
 * first byte is sent: a video's boxes to rename (offsets of their types) or a HEIC's patches;
 * undefined when its structure cannot be read (the caller serves the preview).
 */
export interface LocationPlans {
  videoBoxes(row: ImageRow): Promise<number[] | undefined>;
  heifPatches(row: ImageRow): Promise<BytePatch[] | undefined>;
}

/**
 * Plans read from the store and remembered per original (its id and content hash, so a remembered
 * plan never describes other bytes). The reads are not charged: nothing of them is sent.
 */
export function createLocationPlans(store: ObjectStore): LocationPlans {
  const known = new LRUCache<string, Promise<unknown>>({ max: REMEMBERED });

  function remembered<T>(row: ImageRow, kind: string, plan: (read: ReadFileBytes, size: number) => Promise<T>) {
    const cacheKey = `${kind}/${row.id}/${row.sha256}`;
    let found = known.get(cacheKey) as Promise<T> | undefined;
    if (!found) {
      const key = objectKey(row, 'original');
      const size = row.original_bytes;
      const read = async (start: number, length: number) =>
        length === 0 ? Buffer.alloc(0) : buffer(await store.get(key, { start, end: start + length - 1 }, size));
      found = plan(read, size).catch((error: unknown) => {
        // A store failure is not remembered: the next request tries again.
        known.delete(cacheKey);
        throw error;
      });
      known.set(cacheKey, found);
    }
    return found;
  }

  return {
    videoBoxes: (row) =>
      remembered(row, 'mp4', (read, size) =>
        findLocationBoxes(read, size).catch((error: unknown) => {
          if (error instanceof Mp4LocationRefusal) return undefined;
          throw error;
        }),
      ),
    heifPatches: (row) => remembered(row, 'heif', heifLocationPatches),
  };
}
