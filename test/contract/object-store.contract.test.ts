import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createObjectStore, fileUrlPath } from '../../src/storage/create-store.js';
import { createFsStore } from '../../src/storage/fs/fs-store.js';
import { ObjectNotFoundError, StoreUnavailableError, type ObjectStore } from '../../src/storage/object-store.js';
import { STORE_DRIVERS, azuriteConnectionString, s3TestUrl, type StartedStore } from '../helpers/object-stores.js';

const MB = 1024 * 1024;
/** Big enough for at least two S3 parts (5 MiB minimum) and several Azure blocks (1 MiB in tests). */
const BIG_SIZE = 6 * MB + 12_345;

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A stream of `data` in uneven chunks, as a multipart request body would arrive. */
function chunked(data: Buffer, chunkSize = 64 * 1024 + 7): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < data.length; i += chunkSize) yield data.subarray(i, i + chunkSize);
    })(),
    { objectMode: false },
  );
}

/** A stream that sends `bytesBeforeError` random bytes, then fails like a dropped upload. */
function failingStream(bytesBeforeError: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= bytesBeforeError) {
        setImmediate(() => this.destroy(new Error('client went away')));
        return;
      }
      const n = Math.min(256 * 1024, bytesBeforeError - sent);
      sent += n;
      this.push(randomBytes(n));
    },
  });
}

/** Compares by length and hash so a mismatch prints two short lines, not megabytes of bytes. */
function expectSameBytes(actual: Buffer, expected: Buffer): void {
  expect({ length: actual.length, sha256: sha256(actual) }).toEqual({
    length: expected.length,
    sha256: sha256(expected),
  });
}

async function readAll(store: ObjectStore, key: string, range?: { start: number; end: number }): Promise<Buffer> {
  return buffer(await store.get(key, range));
}

async function listKeys(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of store.list(prefix)) keys.push(info.key);
  return keys.sort();
}

/**
 * Small parts so the 6 MB objects below really go through several multipart parts (S3 allows no less
 * than 5 MiB) or several staged blocks (Azure).
 */
function withSmallParts(driver: string, storageUrl: string): string {
  if (driver === 'fs') return storageUrl;
  const url = new URL(storageUrl);
  url.searchParams.set('partSize', String(driver === 's3' ? 5 * MB : MB));
  return url.toString();
}

/** Keys in Pixa's layout under a user of their own, so tests never see each other's objects. */
function newUser(): string {
  return `u-${randomUUID()}`;
}

for (const driver of STORE_DRIVERS) {
  const skipReason = driver.unavailableReason();
  if (skipReason) console.warn(`object-store contract: skipping the ${driver.name} store: ${skipReason}`);

  describe.skipIf(skipReason !== undefined)(`${driver.name} object store`, () => {
    let started: StartedStore;
    let store: ObjectStore;

    beforeAll(async () => {
      started = await driver.start();
      store = await createObjectStore(withSmallParts(driver.name, started.url), {
        azureConnectionString: started.connectionString,
      });
      await store.ping();
    });

    afterAll(async () => {
      await store?.close();
      await started?.stop();
    });

    it(`reports its kind as ${driver.name}`, () => {
      expect(store.kind).toBe(driver.name);
    });

    describe('put and get', () => {
      it('round-trips a Buffer byte for byte', async () => {
        const key = `${newUser()}/img/original`;
        const data = randomBytes(10_000);
        await store.put(key, data, { contentType: 'image/jpeg', size: data.length });
        expectSameBytes(await readAll(store, key), data);
      });

      it('round-trips an empty object', async () => {
        const key = `${newUser()}/img/original`;
        await store.put(key, Buffer.alloc(0));
        expect((await readAll(store, key)).length).toBe(0);
        expect((await store.stat(key))?.size).toBe(0);
      });

      it('round-trips a 6 MB stream with the same SHA-256 (multipart / blocks)', async () => {
        const key = `${newUser()}/img/original`;
        const data = randomBytes(BIG_SIZE);
        await store.put(key, chunked(data), { contentType: 'image/jpeg' });
        expectSameBytes(await readAll(store, key), data);
        expect((await store.stat(key))?.size).toBe(data.length);
      });

      it('overwriting a key replaces the whole object', async () => {
        const key = `${newUser()}/img/thumb.webp`;
        await store.put(key, randomBytes(5_000));
        const second = randomBytes(1_234);
        await store.put(key, chunked(second, 100));
        expectSameBytes(await readAll(store, key), second);
        expect((await store.stat(key))?.size).toBe(second.length);
      });

      it('get of a missing key rejects with ObjectNotFoundError', async () => {
        await expect(store.get(`${newUser()}/nope/original`)).rejects.toBeInstanceOf(ObjectNotFoundError);
      });
    });

    describe('ranged get', () => {
      const data = randomBytes(BIG_SIZE);
      const key = `${newUser()}/ranged/original`;
      beforeAll(() => store.put(key, chunked(data)));

      it('returns the first byte', async () => {
        expectSameBytes(await readAll(store, key, { start: 0, end: 0 }), data.subarray(0, 1));
      });

      it('returns a range in the middle, across a part boundary', async () => {
        const start = 5 * MB - 1000;
        const end = 5 * MB + 999;
        expectSameBytes(await readAll(store, key, { start, end }), data.subarray(start, end + 1));
      });

      it('returns the last byte', async () => {
        const last = data.length - 1;
        expectSameBytes(await readAll(store, key, { start: last, end: last }), data.subarray(last));
      });

      it('clamps an end past the object to its last byte', async () => {
        const part = await readAll(store, key, { start: data.length - 10, end: data.length + 100 });
        expectSameBytes(part, data.subarray(data.length - 10));
      });

      it('rejects a range that starts past the end with RangeError', async () => {
        await expect(store.get(key, { start: data.length, end: data.length + 10 })).rejects.toBeInstanceOf(RangeError);
      });

      it('rejects a range on a missing key with ObjectNotFoundError', async () => {
        await expect(store.get(`${newUser()}/x/original`, { start: 0, end: 9 })).rejects.toBeInstanceOf(
          ObjectNotFoundError,
        );
      });
    });

    describe('stat', () => {
      it('returns key, size and modification time of a present object', async () => {
        const key = `${newUser()}/img/preview.webp`;
        await store.put(key, randomBytes(777));
        const info = await store.stat(key);
        expect(info).toMatchObject({ key, size: 777 });
        // Sanity, not timing: the store's clock and ours agree to within a few minutes.
        expect(Math.abs((info?.modifiedAt ?? 0) - Date.now())).toBeLessThan(5 * 60_000);
      });

      it('returns undefined for a missing object', async () => {
        expect(await store.stat(`${newUser()}/img/original`)).toBeUndefined();
      });
    });

    describe('delete', () => {
      it('removes the object and is idempotent', async () => {
        const key = `${newUser()}/img/original`;
        await store.put(key, randomBytes(100));
        await store.delete(key);
        await store.delete(key);
        expect(await store.stat(key)).toBeUndefined();
        await expect(store.get(key)).rejects.toBeInstanceOf(ObjectNotFoundError);
      });

      it('of a key that never existed resolves', async () => {
        await expect(store.delete(`${newUser()}/never/original`)).resolves.toBeUndefined();
      });

      it('leaves sibling objects alone', async () => {
        const user = newUser();
        await store.put(`${user}/a/original`, randomBytes(10));
        await store.put(`${user}/a/thumb.webp`, randomBytes(10));
        await store.delete(`${user}/a/original`);
        expect(await listKeys(store, `${user}/`)).toEqual([`${user}/a/thumb.webp`]);
      });
    });

    describe('list', () => {
      it("returns every object under a user's prefix and nobody else's", async () => {
        const user = newUser();
        const other = newUser();
        await store.put(`${user}/a/original`, randomBytes(11));
        await store.put(`${user}/a/thumb.webp`, randomBytes(12));
        await store.put(`${user}/b/original`, randomBytes(13));
        await store.put(`${other}/a/original`, randomBytes(14));
        // A user id that merely starts with the other one must not match `${user}/`.
        await store.put(`${user}x/a/original`, randomBytes(15));

        const infos = [];
        for await (const info of store.list(`${user}/`)) infos.push(info);
        infos.sort((a, b) => a.key.localeCompare(b.key));
        expect(infos.map((i) => [i.key, i.size])).toEqual([
          [`${user}/a/original`, 11],
          [`${user}/a/thumb.webp`, 12],
          [`${user}/b/original`, 13],
        ]);
        expect(infos.every((i) => i.modifiedAt > 0)).toBe(true);
      });

      it('matches a prefix that ends inside a key segment', async () => {
        const user = newUser();
        await store.put(`${user}/img1/original`, randomBytes(1));
        await store.put(`${user}/img2/original`, randomBytes(1));
        await store.put(`${user}/other/original`, randomBytes(1));
        expect(await listKeys(store, `${user}/img`)).toEqual([`${user}/img1/original`, `${user}/img2/original`]);
      });

      it('returns nothing for an unknown prefix', async () => {
        expect(await listKeys(store, `${newUser()}/`)).toEqual([]);
      });

      it('pages through more objects than fit one listing page', { timeout: 120_000 }, async () => {
        const user = newUser();
        const count = 1_050; // S3 and Azure return at most 1000 per page
        const keys = Array.from({ length: count }, (_, i) => `${user}/${String(i).padStart(4, '0')}/thumb.webp`);
        for (let i = 0; i < keys.length; i += 50) {
          await Promise.all(keys.slice(i, i + 50).map((k) => store.put(k, Buffer.from('x'))));
        }
        expect(await listKeys(store, `${user}/`)).toEqual(keys);
      });
    });

    describe('atomic writes', () => {
      it('a put whose source fails halfway leaves no object', async () => {
        const key = `${newUser()}/img/original`;
        await expect(store.put(key, failingStream(5 * MB + 300_000))).rejects.toThrow();
        await expect(store.get(key)).rejects.toBeInstanceOf(ObjectNotFoundError);
        expect(await store.stat(key)).toBeUndefined();
        expect(await listKeys(store, key)).toEqual([]);
      });

      it('a failed overwrite keeps the previous object intact', async () => {
        const key = `${newUser()}/img/original`;
        const first = randomBytes(50_000);
        await store.put(key, first);
        await expect(store.put(key, failingStream(5 * MB + 300_000))).rejects.toThrow();
        expectSameBytes(await readAll(store, key), first);
      });

      it('a put whose source fails before any byte leaves no object', async () => {
        const key = `${newUser()}/img/original`;
        await expect(store.put(key, failingStream(0))).rejects.toThrow();
        expect(await store.stat(key)).toBeUndefined();
      });
    });

    it('cleanupIncomplete resolves to a count', async () => {
      const removed = await store.cleanupIncomplete(60 * 60_000);
      expect(Number.isInteger(removed) && removed >= 0).toBe(true);
    });
  });
}

describe('fs object store specifics', () => {
  let sandbox: string;
  let root: string;
  let store: ObjectStore;

  beforeAll(async () => {
    sandbox = await mkdtemp(path.join(os.tmpdir(), 'pixa-fs-contract-'));
    root = path.join(sandbox, 'root');
    store = createFsStore(root);
    await store.ping();
  });

  afterAll(async () => {
    await rm(sandbox, { recursive: true, force: true });
  });

  const hostileKeys = [
    '../x',
    '../../x',
    'a/../../x',
    '/etc/passwd',
    'a//b',
    'a\\b',
    'a/b\0c',
    '',
    'a/',
    './a',
    '.tmp/a',
  ];

  it.each(hostileKeys)('rejects the key %j for every operation and writes nothing outside the root', async (key) => {
    await expect(store.put(key, Buffer.from('pwned'))).rejects.toThrow(/invalid object key/);
    await expect(store.put(key, Readable.from([Buffer.from('pwned')]))).rejects.toThrow(/invalid object key/);
    await expect(store.get(key)).rejects.toThrow(/invalid object key/);
    await expect(store.stat(key)).rejects.toThrow(/invalid object key/);
    await expect(store.delete(key)).rejects.toThrow(/invalid object key/);
    expect(await readdir(sandbox)).toEqual(['root']);
  });

  it('putFile stores a local file byte for byte and leaves the file where it was', async () => {
    const source = path.join(sandbox, 'staged.upload');
    const bytes = randomBytes(300_000);
    await writeFile(source, bytes);

    await store.putFile!('u/i/original', source);
    // The upload's cleanup removes the staged file afterwards: the object must not go with it.
    await rm(source);

    const stored = await buffer(await store.get('u/i/original'));
    expect(createHash('sha256').update(stored).digest('hex')).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(await readdir(path.join(root, '.tmp'))).toEqual([]);
  });

  it('putFile of a missing file fails and stores nothing', async () => {
    await expect(store.putFile!('u/missing/original', path.join(sandbox, 'nope.upload'))).rejects.toThrow();
    expect(await store.stat('u/missing/original')).toBeUndefined();
  });

  it('rejects an absolute path outside the root without touching it', async () => {
    const victim = path.join(sandbox, 'victim');
    await expect(store.put(victim, Buffer.from('pwned'))).rejects.toThrow(/invalid object key/);
    expect(await readdir(sandbox)).toEqual(['root']);
  });

  it('rejects a list prefix that climbs out of the root', async () => {
    await expect(listKeys(store, '../')).rejects.toThrow(/invalid/);
  });

  it('cleanupIncomplete removes temp files older than the window and keeps fresh ones', async () => {
    const tmpDir = path.join(root, '.tmp');
    await mkdir(tmpDir, { recursive: true });
    const old = path.join(tmpDir, 'old-upload');
    const fresh = path.join(tmpDir, 'fresh-upload');
    await writeFile(old, 'partial');
    await writeFile(fresh, 'partial');
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60_000);
    await utimes(old, twoHoursAgo, twoHoursAgo);

    expect(await store.cleanupIncomplete(60 * 60_000)).toBe(1);
    expect(await readdir(tmpDir)).toEqual(['fresh-upload']);
    expect(await listKeys(store, '')).not.toContain('.tmp/fresh-upload');
    await rm(fresh);
  });

  it('a failed put leaves no temp file behind', async () => {
    await expect(store.put('u/img/original', failingStream(300_000))).rejects.toThrow('client went away');
    expect(await readdir(path.join(root, '.tmp'))).toEqual([]);
  });

  it('delete removes the now-empty directories up to the root', async () => {
    await store.put('gone/img/original', Buffer.from('x'));
    await store.delete('gone/img/original');
    expect(await readdir(root)).not.toContain('gone');
  });

  it('ping rejects with StoreUnavailableError when the root cannot be used', async () => {
    const file = path.join(sandbox, 'not-a-dir');
    await writeFile(file, 'x');
    await expect(createFsStore(path.join(file, 'objects')).ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    await rm(file);
  });

  it('file:// storage URLs map to absolute and relative paths', () => {
    expect(fileUrlPath('file:///var/lib/pixa/objects')).toBe('/var/lib/pixa/objects');
    expect(fileUrlPath('file://./objects')).toBe(path.resolve('objects'));
    expect(fileUrlPath(`file://${path.join(sandbox, 'with space')}`)).toBe(path.join(sandbox, 'with space'));
  });
});

describe.skipIf(!STORE_DRIVERS.some((s) => s.name !== 'fs'))('stores that cannot be reached', () => {
  const dead = [
    { name: 's3', url: s3TestUrl('http://127.0.0.1:1', 'dead') },
    { name: 'azure', url: 'azure://dead/objects', connectionString: azuriteConnectionString(1) },
  ].filter((d) => STORE_DRIVERS.some((s) => s.name === d.name));

  describe.each(dead)('$name pointed at a closed port', ({ url, connectionString }) => {
    let store: ObjectStore;
    beforeAll(async () => {
      store = await createObjectStore(url, { azureConnectionString: connectionString });
    });
    afterAll(() => store.close());

    it('ping rejects with StoreUnavailableError', async () => {
      await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    });

    it('put rejects with StoreUnavailableError', async () => {
      await expect(store.put('u/img/original', Buffer.from('x'))).rejects.toBeInstanceOf(StoreUnavailableError);
    });

    it('put of a stream rejects with StoreUnavailableError', async () => {
      await expect(store.put('u/img/original', chunked(randomBytes(100_000)))).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
    });

    it('get rejects with StoreUnavailableError', async () => {
      await expect(store.get('u/img/original')).rejects.toBeInstanceOf(StoreUnavailableError);
    });

    it('stat rejects with StoreUnavailableError', async () => {
      await expect(store.stat('u/img/original')).rejects.toBeInstanceOf(StoreUnavailableError);
    });
  });
});
