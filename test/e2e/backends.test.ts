import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { sumEvents } from '../../src/modules/usage/storage-event.repository.js';
import { transferOfDay } from '../../src/modules/usage/transfer.repository.js';
import { apiClient, signedUpUser, type ImageBody } from '../helpers/api.js';
import { DIALECTS, type TestDatabase } from '../helpers/databases.js';
import { STORE_DRIVERS, type StartedStore } from '../helpers/object-stores.js';
import { makePhoto, sha256 } from '../helpers/photos.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { offsetAfterCut, reservedBytes, sendAll, tus } from '../helpers/tus.js';

/**
 * The production pairings, each through real HTTP against real servers: a database of its own on
 * the MariaDB/MySQL or PostgreSQL server named by PIXA_TEST_*_URL, and an object store started here.
 */
const BACKENDS = [
  { dialect: 'mysql', store: 'azure' },
  { dialect: 'postgres', store: 's3' },
] as const;

const HOUR = 3_600_000;

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
    /** A second replica: its own data directory, the same database, store and signing key. */
    let replica: TestServer;
    /** Both replicas' clock: real time, plus what a case adds to reach an expiry. */
    let ahead = 0;
    const now = () => Date.now() + ahead;

    beforeAll(async () => {
      [database, store] = await Promise.all([dialect!.createDatabase(), driver!.start()]);
      const env = {
        PIXA_DATABASE_URL: database.url,
        PIXA_STORAGE_URL: store.url,
        PIXA_AUTH_SECRET_KEY: `backends-${backend.dialect}-${backend.store}-signing-key-of-the-test`,
        ...(store.connectionString ? { PIXA_AZURE_CONNECTION_STRING: store.connectionString } : {}),
      };
      server = await startTestServer(env, { now });
      replica = await startTestServer(env, { now });
    });

    afterAll(async () => {
      await replica?.close();
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
        bytesReserved: 0,
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

    it('tus: started on one replica, cut mid-PATCH, resumed and finished on the other; the hold becomes the charge', async () => {
      const user = await signedUpUser(apiClient(server.url), 'resume');
      const data = await makePhoto({ seed: 34, width: 700, height: 500, noise: true });
      const first = tus(server.url, user.token);
      const second = tus(replica.url, user.token);

      const created = await first.create(data.length, { filename: 'ferry.jpg' });
      expect(created.status).toBe(201);
      const location = created.headers.get('location')!;
      expect(await reservedBytes(replica.url, user.token)).toEqual({ storage: data.length, transfer: data.length });
      await first.patchCut(location, data, Math.floor(data.length / 2));

      // The other replica knows what arrived before the cut: it is in the shared database and store.
      const offset = await offsetAfterCut(second, location);
      expect(offset).toBeGreaterThan(0);
      expect(offset).toBeLessThanOrEqual(Math.floor(data.length / 2));
      const last = await sendAll(second, location, data, offset);
      expect(last.headers.get('pixa-upload-state')).toBe('done');

      const result = await first.result(location);
      expect(result.status).toBe(200);
      const image = (await result.json()) as ImageBody;
      expect(image).toMatchObject({ filename: 'ferry.jpg', size: data.length, duplicate: false });
      const original = await apiClient(server.url).fetchMedia(image.urls.original);
      expect(sha256(original.body)).toBe(sha256(data));
      expect(await reservedBytes(server.url, user.token)).toEqual({ storage: 0, transfer: 0 });
      const usage = (await apiClient(replica.url).usage(user.token)).body;
      expect(usage.transfer.inBytes).toBe(data.length);
      const parts: string[] = [];
      for await (const object of server.pixa.store.list('uploads/')) parts.push(object.key);
      expect(parts).toEqual([]);
    });

    it('tus: past PIXA_UPLOAD_EXPIRY_HOURS, both replicas sweep at once: removed once, the hold given back once', async () => {
      const user = await signedUpUser(apiClient(server.url), 'expire');
      const client = tus(server.url, user.token);
      const day = new Date(now()).toISOString().slice(0, 10);
      const location = (await client.create(5000)).headers.get('location')!;
      expect((await client.patch(location, 0, Buffer.alloc(1000, 7))).status).toBe(204);

      ahead += 25 * HOUR;
      const db = server.pixa.database.db;
      // Every upload of this database is past its expiry now, finished ones (kept for their result) too.
      const expired = await db.selectFrom('uploads').select('id').execute();
      const removed = await Promise.all([
        server.pixa.uploads.sweepExpired(HOUR),
        replica.pixa.uploads.sweepExpired(HOUR),
      ]);

      expect(removed[0] + removed[1]).toBe(expired.length);
      expect(await db.selectFrom('uploads').select('id').execute()).toEqual([]);
      const row = await db
        .selectFrom('users')
        .select('storage_reserved_bytes')
        .where('id', '=', user.userId)
        .executeTakeFirstOrThrow();
      expect(Number(row.storage_reserved_bytes)).toBe(0);
      expect((await transferOfDay(db, user.userId, day)).bytesReserved).toBe(0);
      const parts: string[] = [];
      for await (const object of replica.pixa.store.list('uploads/')) parts.push(object.key);
      expect(parts).toEqual([]);
      // A day later the sign-in has expired too: sign in again to ask.
      const { token } = (await apiClient(replica.url).login(user.username, user.password)).body;
      expect((await tus(replica.url, token).head(location)).status).toBe(404);
    });
  });
}
