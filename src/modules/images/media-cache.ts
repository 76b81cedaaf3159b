import { LRUCache } from 'lru-cache';

import type { Variant } from '../../api/images.js';
import type { ImageRow } from './image.repository.js';

/**
 * What a media request needs of an image, read from the database at `readAt`, and the bytes of its
 * small variants once read. Objects never change under their key, so bytes stay valid as long as the
 * row does.
 */
export interface MediaEntry {
  row: ImageRow;
  readAt: number;
  bodies: Partial<Record<Variant, Buffer>>;
  /** What a variant is served with, derived from `row` on its first request (see media.service.ts). */
  facts: Partial<Record<Variant, VariantFacts>>;
}

/** A variant's ETag, object key, size, type and file name: strings built once per cached row. */
export interface VariantFacts {
  etag: string;
  key: string;
  size: number;
  contentType: string;
  filename: string;
}

export interface MediaCacheOptions {
  /**
   * How long a row read from the database is trusted. A delete on this process forgets the row at
   * once; a delete on another replica sharing the database is seen within this time.
   */
  ttlMs: number;
  /** Bytes the cache may hold, rows and bodies together. */
  maxBytes: number;
  /** Bodies larger than this are never held (previews of large photos, originals). */
  maxBodyBytes: number;
  now: () => number;
}

export interface MediaCache {
  /** The entry of `imageId` if it was read within the TTL. */
  fresh(imageId: string): MediaEntry | undefined;
  /** Remembers a row just read; keeps the bodies already held for it (its objects are the same). */
  remember(row: ImageRow, readAt: number): MediaEntry;
  /** Keeps a variant's bytes with its entry, if small enough. */
  keepBody(entry: MediaEntry, variant: Variant, bytes: Buffer): void;
  forget(imageId: string): void;
  forgetOwner(ownerId: string): void;
}

/** Rough size of a row, its variants' facts and its map entry, so that a cache of rows alone is bounded too. */
const ROW_BYTES = 1_000;

export const MEDIA_CACHE_DEFAULTS = { ttlMs: 2_000, maxBytes: 32 * 1024 * 1024, maxBodyBytes: 256 * 1024 };

export function createMediaCache(options: MediaCacheOptions): MediaCache {
  const entries = new LRUCache<string, MediaEntry>({
    maxSize: options.maxBytes,
    sizeCalculation: (entry) => ROW_BYTES + (entry.bodies.thumbnail?.length ?? 0) + (entry.bodies.preview?.length ?? 0),
  });
  return {
    fresh(imageId) {
      const entry = entries.get(imageId);
      if (!entry) return undefined;
      if (options.now() - entry.readAt < options.ttlMs) return entry;
      return undefined;
    },
    remember(row, readAt) {
      const previous = entries.peek(row.id);
      const entry: MediaEntry = {
        row,
        readAt,
        bodies: previous?.row.object_prefix === row.object_prefix ? previous.bodies : {},
        facts: {},
      };
      entries.set(row.id, entry);
      return entry;
    },
    keepBody(entry, variant, bytes) {
      if (bytes.length > options.maxBodyBytes || variant === 'original' || variant === 'playback') return;
      entry.bodies[variant] = bytes;
      // Set again so that the cache counts the new size (and still holds the same entry).
      if (entries.peek(entry.row.id) === entry) entries.set(entry.row.id, entry);
    },
    forget(imageId) {
      entries.delete(imageId);
    },
    forgetOwner(ownerId) {
      for (const [id, entry] of entries.entries()) if (entry.row.owner_id === ownerId) entries.delete(id);
    },
  };
}
