import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';

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
  const entries = new Map<string, Buffer>();
  let held = 0;

  const forget = (key: string) => {
    const bytes = entries.get(key);
    if (bytes) {
      held -= bytes.length;
      entries.delete(key);
    }
  };
  const remember = (key: string, bytes: Buffer) => {
    if (bytes.length > options.maxObjectBytes || bytes.length > options.maxBytes) return;
    forget(key);
    entries.set(key, bytes);
    held += bytes.length;
    for (const [oldest, old] of entries) {
      if (held <= options.maxBytes) break;
      held -= old.length;
      entries.delete(oldest);
    }
  };

  return {
    ...store,
    kind: store.kind,
    async put(key: string, body: Readable | Buffer, putOptions?: PutOptions) {
      forget(key);
      await store.put(key, body, putOptions);
    },
    ...(store.putFile && {
      async putFile(key: string, file: string, putOptions?: PutOptions) {
        forget(key);
        await store.putFile!(key, file, putOptions);
      },
    }),
    async get(key: string, range?: ByteRange, knownSize?: number) {
      const cached = range ? undefined : entries.get(key);
      if (cached) {
        // Most recently used goes to the end of the map's order.
        entries.delete(key);
        entries.set(key, cached);
        return Readable.from([cached]);
      }
      if (range) return store.get(key, range);
      const size = knownSize ?? (await store.stat(key))?.size;
      // Too large to keep (an original, most previews): read straight through, with no stat first.
      if (size === undefined || size > options.maxObjectBytes) return store.get(key);
      const bytes = await buffer(await store.get(key));
      remember(key, bytes);
      return Readable.from([bytes]);
    },
    async delete(key: string) {
      forget(key);
      await store.delete(key);
    },
    stat: (key) => store.stat(key),
    list: (prefix) => store.list(prefix),
    cleanupIncomplete: (olderThanMs) => store.cleanupIncomplete(olderThanMs),
    ping: () => store.ping(),
    close: () => store.close(),
  };
}
