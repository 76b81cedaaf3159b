import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { sumEvents } from '../../src/modules/usage/storage-event.repository.js';
import { transferOfDay } from '../../src/modules/usage/transfer.repository.js';
import { apiClient, signedUpUser, type ImageBody } from '../helpers/api.js';
import { DIALECTS, type TestDatabase } from '../helpers/databases.js';
import { STORE_DRIVERS, type StartedStore } from '../helpers/object-stores.js';
import { makePhoto, sha256 } from '../helpers/photos.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The production pairings, each through real HTTP against real servers: a database of its own on
 * the MariaDB/MySQL or PostgreSQL server named by PIXA_TEST_*_URL, and an object store started here.
 */
const BACKENDS = [
  { dialect: 'mysql', store: 'azure' },
  { dialect: 'postgres', store: 's3' },
] as const;

const PHOTOS = [
  { name: 'harbour.jpg', seed: 31, takenAt: '2021:06:01 08:00:00' },
  { name: 'mountain.jpg', seed: 32, takenAt: '2023:02:14 16:30:00' },
  { name: 'street.jpg', seed: 33, takenAt: '2022:09:09 12:00:00' },
];

for (const backend of BACKENDS) {
  const dialect = DIALECTS.find((d) => d.name === backend.dialect);
  const driver = STORE_DRIVERS.find((d) => d.name === backend.store);
  const skipReason =
    dialect?.skipReason ??
    (driver ? driver.unavailableReason() : `the ${backend.store} store is not in PIXA_TEST_STORES`);
  const title = `${backend.dialect} + ${backend.store}`;
  if (skipReason) console.warn(`backends e2e: skipping ${title}: ${skipReason}`);

  describe.skipIf(skipReason !== undefined)(`backends › ${title}`, () => {
    let database: TestDatabase;
    let store: StartedStore;
    let server: TestServer;

    beforeAll(async () => {
      [database, store] = await Promise.all([dialect!.createDatabase(), driver!.start()]);
      server = await startTestServer({
        PIXA_DATABASE_URL: database.url,
        PIXA_STORAGE_URL: store.url,
        ...(store.connectionString ? { PIXA_AZURE_CONNECTION_STRING: store.connectionString } : {}),
      });
    });

    afterAll(async () => {
      await server?.close();
      await Promise.allSettled([database?.drop(), store?.stop()]);
    });

    it('runs on the backends it was given', () => {
      expect(server.pixa.database.dialect).toBe(backend.dialect);
      expect(server.pixa.config.storageUrl.startsWith(`${backend.store}://`)).toBe(true);
    });

    it('register, upload, list, view, usage, delete: every step works and the counters follow', async () => {
      const client = apiClient(server.url);
      const user = await signedUpUser(client, 'backend');
      const photos = await Promise.all(
        PHOTOS.map(async (photo) => ({
          ...photo,
          data: await makePhoto({ seed: photo.seed, takenAt: photo.takenAt }),
        })),
      );
      const originals = photos.reduce((total, photo) => total + photo.data.length, 0);

      const uploaded = await client.upload(
        user.token,
        photos.map((photo) => ({ name: photo.name, data: photo.data, type: 'image/jpeg' })),
      );
      expect(uploaded.status, JSON.stringify(uploaded.body)).toBe(201);
      expect(uploaded.body.images.map((image) => image.filename)).toEqual(PHOTOS.map((photo) => photo.name));

      // Newest taken first, two to a page: the keyset cursor works on this database.
      const first = await client.list(user.token, '?limit=2');
      expect(first.status).toBe(200);
      expect(first.body.nextCursor).not.toBeNull();
      const second = await client.list(user.token, `?limit=2&cursor=${encodeURIComponent(first.body.nextCursor!)}`);
      expect(second.body.nextCursor).toBeNull();
      const listed: ImageBody[] = [...first.body.items, ...second.body.items];
      expect(listed.map((image) => image.filename)).toEqual(['mountain.jpg', 'street.jpg', 'harbour.jpg']);

      for (const image of listed) {
        const photo = photos.find((p) => p.name === image.filename)!;
        const thumbnail = await client.fetchMedia(image.urls.thumbnail);
        expect(thumbnail.status).toBe(200);
        expect(thumbnail.headers.get('content-type')).toBe('image/webp');
        expect(thumbnail.body.length).toBeGreaterThan(0);
        const original = await client.fetchMedia(image.urls.original);
        expect(original.status).toBe(200);
        expect(sha256(original.body)).toBe(sha256(photo.data));
      }

      const usage = await client.usage(user.token);
      expect(usage.status).toBe(200);
      expect(usage.body.storage.usedBytes).toBeGreaterThan(originals);
      expect(usage.body.transfer.inBytes).toBe(originals);
      // Originals count against the daily transfer; thumbnails are free.
      expect(usage.body.transfer.outBytes).toBe(originals);
      // The counters agree with the event log they summarise.
      const db = server.pixa.database.db;
      const events = await sumEvents(db, user.userId, 0);
      expect(events.upload).toBe(usage.body.storage.usedBytes);
      expect(await transferOfDay(db, user.userId, usage.body.transfer.day)).toEqual({
        bytesIn: originals,
        bytesOut: originals,
      });

      const [gone, ...kept] = listed;
      expect((await client.deleteForGood(user.token, gone!.id)).status).toBe(204);
      expect((await client.fetchMedia(gone!.urls.original)).status).toBe(404);
      const fewer = await client.usage(user.token);
      expect(fewer.body.storage.usedBytes).toBeLessThan(usage.body.storage.usedBytes);
      expect((await client.list(user.token)).body.items.map((image) => image.id)).toEqual(kept.map((i) => i.id));

      for (const image of kept) expect((await client.deleteForGood(user.token, image.id)).status).toBe(204);
      const none = await client.usage(user.token);
      expect(none.body.storage.usedBytes).toBe(0);
      expect((await client.list(user.token)).body.items).toEqual([]);
      expect((await sumEvents(db, user.userId, 0)).delete).toBe(usage.body.storage.usedBytes);
      const left: string[] = [];
      for await (const object of server.pixa.store.list(`${user.userId}/`)) left.push(object.key);
      expect(left).toEqual([]);
    });
  });
}
