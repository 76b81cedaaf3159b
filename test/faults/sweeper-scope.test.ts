import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { insertUser } from '../../src/modules/auth/user.repository.js';
import { insertImage } from '../../src/modules/images/image.repository.js';
import { sweepOrphans, sweepSafetyWindowMs } from '../../src/modules/images/sweeper.js';
import { appendEvents } from '../../src/modules/usage/storage-event.repository.js';
import { createObjectStore } from '../../src/storage/create-store.js';
import { createFsStore } from '../../src/storage/fs/fs-store.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { DIALECTS, openMigratedDatabase, type MigratedDatabase } from '../helpers/databases.js';
import { STORE_DRIVERS, type StartedStore } from '../helpers/object-stores.js';
import { imageRow } from '../helpers/rows.js';

const sqlite = DIALECTS.find((d) => d.name === 'sqlite')!;
const HOUR = 60 * 60 * 1000;
const OBJECTS = ['original', 'thumb.webp', 'preview.webp'];

async function addUser(database: MigratedDatabase, id = randomUUID()): Promise<string> {
  await insertUser(database.db, {
    id,
    username: `u${id.slice(0, 8)}`,
    username_key: `u${id.slice(0, 8)}`,
    password_hash: 'x',
    role: 'user',
    storage_quota_bytes: null,
    daily_transfer_bytes: null,
    storage_used_bytes: 0,
    created_at: 0,
  });
  return id;
}

async function addImage(database: MigratedDatabase, ownerId: string): Promise<string> {
  const id = randomUUID();
  const row = imageRow(ownerId, {
    id,
    filename: 'a.jpg',
    original_bytes: 5,
    thumbnail_bytes: 5,
    preview_bytes: 5,
    width: 1,
    height: 1,
    taken_at: 0,
    uploaded_at: 0,
  });
  await insertImage(database.db, row);
  return id;
}

async function putAll(store: ObjectStore, keys: string[]): Promise<void> {
  for (const key of keys) await store.put(key, Buffer.from(`bytes of ${key}`));
}

async function keysIn(store: ObjectStore): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of store.list('')) keys.push(object.key);
  return keys.sort();
}

const imageKeys = (owner: string, image: string) => OBJECTS.map((name) => `${owner}/${image}/${name}`);

/** The store's URL without Pixa's prefix: the whole bucket or container, as `s3://shared-bucket` names it. */
function rootUrl(url: string): string {
  return url.replace(/^((?:s3|azure):\/\/[^/?]+)\/[^?]*/, '$1');
}

for (const driver of STORE_DRIVERS) {
  const unavailable = driver.unavailableReason();
  describe.skipIf(unavailable)(`sweeper on a shared ${driver.name} root`, () => {
    let started: StartedStore;
    let store: ObjectStore;
    let database: MigratedDatabase;

    beforeAll(async () => {
      started = await driver.start();
      store = await createObjectStore(rootUrl(started.url), { azureConnectionString: started.connectionString });
      database = await openMigratedDatabase(sqlite);
    });
    afterAll(async () => {
      await store?.close();
      await database?.close();
      await started?.stop();
    });

    it("removes Pixa's orphans and nothing that is not Pixa's", async () => {
      const owner = await addUser(database);
      const kept = await addImage(database, owner);
      const orphan = randomUUID();
      // An account deleted since: its leftovers are still ours, known by the events of its uploads.
      const gone = randomUUID();
      const goneImage = randomUUID();
      await appendEvents(database.db, [
        {
          at: 1,
          user_id: gone,
          image_id: goneImage,
          operation: 'upload',
          object_key: `${gone}/${goneImage}/original`,
          bytes: 5,
          status: 201,
        },
      ]);
      // Another deployment of Pixa on the same bucket: same layout, owners this database never saw.
      const neighbour = imageKeys(randomUUID(), randomUUID());
      const foreign = [
        'backups/2024/db.sql',
        'backups/2024/11/29/full.tar',
        'website/assets/img/logo.png',
        `${owner}/${randomUUID()}/notes.txt`,
        `${owner}/not-an-id/original`,
        `${owner.toUpperCase()}/${randomUUID()}/original`,
        `${owner}/${randomUUID()}/original/extra`,
      ];
      await putAll(store, [
        ...imageKeys(owner, kept),
        ...imageKeys(owner, orphan),
        ...imageKeys(gone, goneImage),
        ...neighbour,
        ...foreign,
      ]);

      const report = await sweepOrphans(database.db, store, HOUR, Date.now() + 10 * HOUR);

      expect(report.orphans.sort()).toEqual([...imageKeys(owner, orphan), ...imageKeys(gone, goneImage)].sort());
      expect(await keysIn(store)).toEqual([...imageKeys(owner, kept), ...neighbour, ...foreign].sort());
    });
  });
}

describe('sweeper window and the request timeout', () => {
  let dir: string;
  let store: ObjectStore;
  let database: MigratedDatabase;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'pixa-sweep-window-'));
    database = await openMigratedDatabase(sqlite);
  });
  // Each case on a store of its own: one case's objects are another's orphans.
  beforeEach(() => {
    store = createFsStore(path.join(dir, randomUUID()));
  });
  afterAll(async () => {
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Stages a file last written `ageMs` before `now` and links it in as an original, as an upload does. */
  async function linkedOriginal(owner: string, now: number, ageMs: number): Promise<string> {
    const staged = path.join(dir, `${randomUUID()}.upload`);
    await writeFile(staged, 'photo bytes');
    const written = new Date(now - ageMs);
    await utimes(staged, written, written);
    const key = `${owner}/${randomUUID()}/original`;
    await store.putFile!(key, staged, { size: 11 });
    return key;
  }

  it('grows with PIXA_REQUEST_TIMEOUT_SECONDS and always covers a whole request', () => {
    expect(sweepSafetyWindowMs(2_000)).toBeGreaterThan(2_000);
    expect(sweepSafetyWindowMs(86_400_000)).toBeGreaterThan(86_400_000);
    expect(sweepSafetyWindowMs(86_400_000) - sweepSafetyWindowMs(2_000)).toBe(86_400_000 - 2_000);
  });

  it('a 24-hour upload: an original linked from a 23-hour-old staging file survives a sweep before its commit', async () => {
    const owner = await addUser(database);
    const now = Date.now();
    const key = await linkedOriginal(owner, now, 23 * HOUR);
    expect((await store.stat(key))!.modifiedAt).toBeLessThan(now - 22 * HOUR);

    const report = await sweepOrphans(database.db, store, sweepSafetyWindowMs(24 * HOUR), now);

    expect(report.orphans).toEqual([]);
    expect(await store.stat(key)).toBeDefined();
  });

  it('a short timeout: orphans older than the request timeout plus its margin go, younger ones stay', async () => {
    const owner = await addUser(database);
    const timeout = 2_000;
    const window = sweepSafetyWindowMs(timeout);
    const now = Date.now();
    const inFlight = await linkedOriginal(owner, now, window - 60_000);
    const abandoned = await linkedOriginal(owner, now, window + 60_000);

    const report = await sweepOrphans(database.db, store, window, now);

    expect(report.orphans).toEqual([abandoned]);
    expect(await store.stat(inFlight)).toBeDefined();
  });
});
