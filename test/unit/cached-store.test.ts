import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { withSmallObjectCache } from '../../src/storage/cached-store.js';
import { createFsStore } from '../../src/storage/fs/fs-store.js';
import { ObjectNotFoundError, type ObjectStore } from '../../src/storage/object-store.js';

describe('small object cache over the file store', () => {
  let root: string;
  let backing: ObjectStore;
  let store: ObjectStore;

  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'pixa-cache-'));
    backing = createFsStore(root);
    store = withSmallObjectCache(backing, { maxBytes: 3000, maxObjectBytes: 1000 });
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  const read = async (key: string) => buffer(await store.get(key));

  it('serves a small object from memory once read: a file changed behind its back is not read again', async () => {
    await store.put('u/i/thumb.webp', Buffer.from('first'));
    expect((await read('u/i/thumb.webp')).toString()).toBe('first');
    // Keys are never rewritten in place by Pixa; writing the file directly proves the second read is cached.
    await writeFile(path.join(root, 'u/i/thumb.webp'), 'changed on disk');
    expect((await read('u/i/thumb.webp')).toString()).toBe('first');
  });

  it('forgets an object on delete and on put through it', async () => {
    await store.put('u/i/thumb.webp', Buffer.from('first'));
    await read('u/i/thumb.webp');
    await store.put('u/i/thumb.webp', Buffer.from('second'));
    expect((await read('u/i/thumb.webp')).toString()).toBe('second');
    await store.delete('u/i/thumb.webp');
    await expect(store.get('u/i/thumb.webp')).rejects.toBeInstanceOf(ObjectNotFoundError);
  });

  it('never caches objects over the size limit, nor ranged reads', async () => {
    const big = randomBytes(5000);
    await store.put('u/i/original', big);
    expect((await read('u/i/original')).equals(big)).toBe(true);
    await writeFile(path.join(root, 'u/i/original'), 'replaced');
    expect((await read('u/i/original')).toString()).toBe('replaced');
    expect((await buffer(await store.get('u/i/original', { start: 0, end: 2 }))).toString()).toBe('rep');
  });

  it('given the size by the caller, it does not stat the object first', async () => {
    let stats = 0;
    const counted = withSmallObjectCache(
      { ...backing, stat: (key) => ((stats += 1), backing.stat(key)) },
      { maxBytes: 3000, maxObjectBytes: 1000 },
    );
    const big = randomBytes(5000);
    await counted.put('u/i/original', big);
    await counted.put('u/i/thumb.webp', Buffer.from('small'));

    expect((await buffer(await counted.get('u/i/original', undefined, big.length))).equals(big)).toBe(true);
    expect((await buffer(await counted.get('u/i/thumb.webp', undefined, 5))).toString()).toBe('small');
    expect(stats).toBe(0);
    await writeFile(path.join(root, 'u/i/thumb.webp'), 'other');
    expect((await buffer(await counted.get('u/i/thumb.webp', undefined, 5))).toString()).toBe('small');
    expect((await buffer(await counted.get('u/i/original'))).equals(big)).toBe(true);
    expect(stats).toBe(1);
  });

  it('drops the least recently used objects past its memory limit', async () => {
    for (const name of ['a', 'b', 'c', 'd']) {
      await store.put(`u/${name}/thumb.webp`, Buffer.alloc(900, name));
      await read(`u/${name}/thumb.webp`);
    }
    // 4 × 900 bytes do not fit in 3,000: "a" was dropped, so a change on disk shows; "d" is still cached.
    await writeFile(path.join(root, 'u/a/thumb.webp'), 'new a');
    await writeFile(path.join(root, 'u/d/thumb.webp'), 'new d');
    expect((await read('u/a/thumb.webp')).toString()).toBe('new a');
    expect((await read('u/d/thumb.webp')).toString()).toBe('d'.repeat(900));
  });
});
