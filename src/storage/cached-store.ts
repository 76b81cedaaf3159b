import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';

import { LRUCache } from 'lru-cache';

import type { ByteRange, ObjectStore, PutOptions } from './object-store.js';

export interface SmallObjectCacheOptions {
  /** Bytes the cache may hold in all. */
  maxBytes: number;
  /** Objects larger than this are never cached. */
  maxObjectBytes: number;
}

/**
 * Keeps recently read small objects (thumbnails) in memory, least recently used dropped first. Pixa
 * never rewrites a key in place, and a delete here drops its entry; a delete by another replica
 * cannot leave a stale answer, because every read is preceded by the image row's lookup.
 */
export function withSmallObjectCache(store: ObjectStore, options: SmallObjectCacheOptions): ObjectStore {
  const entries = new LRUCache<string, Buffer>({
    maxSize: options.maxBytes,
    maxEntrySize: Math.min(options.maxObjectBytes, options.maxBytes),
    sizeCalculation: (bytes) => Math.max(1, bytes.length),
  });

  return {
    ...store,
    kind: store.kind,
    async put(key: string, body: Readable | Buffer, putOptions?: PutOptions) {
      entries.delete(key);
      await store.put(key, body, putOptions);
    },
    ...(store.putFile && {
      async putFile(key: string, file: string, putOptions?: PutOptions) {
        entries.delete(key);
        await store.putFile!(key, file, putOptions);
      },
    }),
    async get(key: string, range?: ByteRange, knownSize?: number) {
      const cached = range ? undefined : entries.get(key);
      if (cached) return Readable.from([cached]);
      if (range) return store.get(key, range);
      const size = knownSize ?? (await store.stat(key))?.size;
      // Too large to keep (an original, most previews): read straight through, with no stat first.
      if (size === undefined || size > options.maxObjectBytes) return store.get(key);
      const bytes = await buffer(await store.get(key));
      // The cache itself refuses an entry larger than maxObjectBytes or the whole budget.
      entries.set(key, bytes);
      return Readable.from([bytes]);
    },
    async delete(key: string) {
      entries.delete(key);
      await store.delete(key);
    },
    stat: (key) => store.stat(key),
    list: (prefix) => store.list(prefix),
    cleanupIncomplete: (olderThanMs) => store.cleanupIncomplete(olderThanMs),
    ping: () => store.ping(),
    close: () => store.close(),
  };
}
