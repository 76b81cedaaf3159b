import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { signedUpUser } from '../helpers/api.js';
import { makePhoto } from '../helpers/photos.js';
import { library, uploadMany, uploadPhotos } from './support/library.js';
import { EMBEDDED_ONLY, manualClock, startApiServer, type ApiServer } from './support/server.js';
import { imageRows, objectKeysOf, storageEvents, userRow } from './support/state.js';

const DAY = 86_400_000;

let server: ApiServer;
let api: ReturnType<typeof library>;

beforeAll(async () => {
  server = await startApiServer();
  api = library(server);
});
afterAll(() => server?.close());

/** The account's storage counter equals what its rows (in the gallery and the trash) take, and its objects match its rows. */
async function expectConsistent(target: ApiServer, userId: string): Promise<number> {
  const rows = await imageRows(target, userId);
  const stored = rows.reduce((sum, row) => sum + row.original_bytes + row.thumbnail_bytes + row.preview_bytes, 0);
  expect((await userRow(target, userId)).storage_used_bytes).toBe(stored);
  const keys = rows.flatMap((row) =>
    ['original', 'preview.webp', 'thumb.webp'].map((name) => `${row.object_prefix}${name}`),
  );
  expect(await objectKeysOf(target, userId)).toEqual(keys.sort());
  return stored;
}

describe('trash › moving photos there', () => {
  it('trash › DELETE an image › it leaves the gallery for the trash; bytes, storage and objects stay', async () => {
    const { token, userId } = await signedUpUser(server.client);
    const [kept, doomed] = await uploadPhotos(server, token, ['2024:01:01 10:00:00', '2024:01:02 10:00:00']);
    const before = await server.client.usage(token);

    const res = await server.client.deleteImage(token, doomed!.id);

    expect(res.status).toBe(204);
    expect((await server.client.list(token)).body.items.map((i) => i.id)).toEqual([kept!.id]);
    expect((await server.client.getImage(token, doomed!.id)).status).toBe(404);
    const trash = await api.trash(token);
    expect(trash.status).toBe(200);
    expect(trash.body.items.map((i) => i.id)).toEqual([doomed!.id]);
    const item = trash.body.items[0]!;
    expect(Date.parse(item.purgeAt) - Date.parse(item.trashedAt)).toBe(30 * DAY);
    const usage = await server.client.usage(token);
    expect(usage.body.storage.usedBytes).toBe(before.body.storage.usedBytes);
    const rows = await imageRows(server, userId);
    const trashed = rows.find((row) => row.id === doomed!.id)!;
    expect(usage.body.storage.trashBytes).toBe(
      trashed.original_bytes + trashed.thumbnail_bytes + trashed.preview_bytes,
    );
    expect((await storageEvents(server, userId)).filter((e) => e.operation === 'delete')).toEqual([]);
    await expectConsistent(server, userId);
  });

  it('trash › the owner’s media links of a trashed photo › still served (the trash page shows them)', async () => {
    const { token } = await signedUpUser(server.client);
    const [photo] = await uploadPhotos(server, token, ['2024:01:03 10:00:00']);
    await server.client.deleteImage(token, photo!.id);

    const listed = (await api.trash(token)).body.items[0]!;

    expect((await server.client.fetchMedia(listed.urls.thumbnail)).status).toBe(200);
    expect((await server.client.fetchMedia(photo!.urls.original)).status).toBe(200);
  });

  it('trash › DELETE a photo already in the trash, or another user’s › 404', async () => {
    const owner = await signedUpUser(server.client);
    const [photo] = await uploadPhotos(server, owner.token, ['2024:01:04 10:00:00']);
    const intruder = await signedUpUser(server.client);

    expect((await server.client.deleteImage(intruder.token, photo!.id)).status).toBe(404);
    expect((await server.client.deleteImage(owner.token, photo!.id)).status).toBe(204);
    expect((await server.client.deleteImage(owner.token, photo!.id)).status).toBe(404);
    expect((await api.trash(intruder.token)).body.items).toEqual([]);
  });

  it('trash › pages › most recently deleted first, keyset pages, none skipped or repeated', async () => {
    const { token } = await signedUpUser(server.client);
    const photos = await uploadMany(server, token, 7);
    for (const photo of photos) await server.client.deleteImage(token, photo.id);
    const all = (await api.trash(token, '?limit=200')).body.items.map((i) => i.id);

    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const res = await api.trash(token, `?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      seen.push(...res.body.items.map((i) => i.id));
      cursor = res.body.nextCursor;
      if (!cursor) break;
    }

    expect(seen).toEqual(all);
    expect([...seen].sort()).toEqual(photos.map((p) => p.id).sort());
  });
});

describe('trash › restore', () => {
  it('trash › restore › back in the gallery with its favourite and albums', async () => {
    const { token } = await signedUpUser(server.client);
    const [photo] = await uploadPhotos(server, token, ['2024:02:01 10:00:00']);
    const album = (await api.createAlbum(token, { title: 'Kept' })).body;
    await api.addToAlbum(token, album.id, [photo!.id]);
    await api.favorite(token, photo!.id);
    await server.client.deleteImage(token, photo!.id);

    const res = await api.restore(token, [photo!.id, photo!.id]);

    expect(res.status).toBe(200);
    expect(res.body.restored).toBe(1);
    const back = await server.client.getImage(token, photo!.id);
    expect(back.body).toMatchObject({ favorite: true, albumIds: [album.id] });
    expect((await api.trash(token)).body.items).toEqual([]);
    expect((await server.client.usage(token)).body.storage.trashBytes).toBe(0);
  });

  it('trash › restore a photo in the gallery › 200, nothing to restore', async () => {
    const { token } = await signedUpUser(server.client);
    const [photo] = await uploadPhotos(server, token, ['2024:02:02 10:00:00']);
    const res = await api.restore(token, [photo!.id]);
    expect(res.status).toBe(200);
    expect(res.body.restored).toBe(0);
  });

  it('trash › restore with one id of another user, unknown or malformed › 404, nothing restored', async () => {
    const { token } = await signedUpUser(server.client);
    const [mine] = await uploadPhotos(server, token, ['2024:02:03 10:00:00']);
    await server.client.deleteImage(token, mine!.id);
    const other = await signedUpUser(server.client);
    const [theirs] = await uploadPhotos(server, other.token, ['2024:02:04 10:00:00']);
    await server.client.deleteImage(other.token, theirs!.id);

    for (const bad of [theirs!.id, randomUUID(), '../etc']) {
      const res = await api.restore(token, [mine!.id, bad]);
      expect([bad, res.status, res.body.error?.code]).toEqual([bad, 404, 'not_found']);
    }
    expect((await api.trash(token)).body.items.map((i) => i.id)).toEqual([mine!.id]);
    expect((await api.trash(other.token)).body.items.map((i) => i.id)).toEqual([theirs!.id]);
  });

  it('trash › restore 501 ids › 400, nothing restored', async () => {
    const { token } = await signedUpUser(server.client);
    const [photo] = await uploadPhotos(server, token, ['2024:02:05 10:00:00']);
    await server.client.deleteImage(token, photo!.id);

    const res = await api.restore(token, [photo!.id, ...Array.from({ length: 500 }, () => randomUUID())]);

    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect((await api.trash(token)).body.items).toHaveLength(1);
  });

  it('trash › uploading the same bytes again › restores that photo, answered as a duplicate, stored once', async () => {
    const { token, userId } = await signedUpUser(server.client);
    const data = await makePhoto({ width: 150, height: 100, seed: 99_001, takenAt: '2024:02:06 10:00:00' });
    const first = (await server.client.upload(token, [{ name: 'a.jpg', data }])).body.images[0]!;
    const album = (await api.createAlbum(token, { title: 'A' })).body;
    await api.addToAlbum(token, album.id, [first.id]);
    await server.client.deleteImage(token, first.id);
    const used = (await server.client.usage(token)).body.storage.usedBytes;

    const again = await server.client.upload(token, [{ name: 'a.jpg', data }]);

    expect(again.status).toBe(200);
    expect(again.body.images[0]).toMatchObject({ id: first.id, duplicate: true, albumIds: [album.id] });
    expect((await server.client.list(token)).body.items.map((i) => i.id)).toEqual([first.id]);
    expect((await api.trash(token)).body.items).toEqual([]);
    expect((await server.client.usage(token)).body.storage.usedBytes).toBe(used);
    expect(await imageRows(server, userId)).toHaveLength(1);
    await expectConsistent(server, userId);
  });
});

describe('trash › deleting for good', () => {
  it('trash › DELETE /trash/:id › row, objects and storage go, with delete events, exactly as before', async () => {
    const { token, userId } = await signedUpUser(server.client);
    const [kept, doomed] = await uploadPhotos(server, token, ['2024:03:01 10:00:00', '2024:03:02 10:00:00']);
    await server.client.deleteImage(token, doomed!.id);
    const rows = await imageRows(server, userId);
    const doomedRow = rows.find((row) => row.id === doomed!.id)!;
    const usedBefore = (await userRow(server, userId)).storage_used_bytes;

    const res = await api.deleteForGood(token, doomed!.id);

    expect(res.status).toBe(204);
    const freed = doomedRow.original_bytes + doomedRow.thumbnail_bytes + doomedRow.preview_bytes;
    expect((await userRow(server, userId)).storage_used_bytes).toBe(usedBefore - freed);
    const deletes = (await storageEvents(server, userId)).filter((e) => e.operation === 'delete');
    expect(deletes.reduce((sum, e) => sum + e.bytes, 0)).toBe(freed);
    expect((await server.client.fetchMedia(doomed!.urls.original)).status).toBe(404);
    expect((await api.trash(token)).body.items).toEqual([]);
    expect((await server.client.list(token)).body.items.map((i) => i.id)).toEqual([kept!.id]);
    await expectConsistent(server, userId);
    expect((await api.deleteForGood(token, doomed!.id)).status).toBe(404);
  });

  it('trash › DELETE /trash/:id of a photo in the gallery, or another user’s › 404, nothing deleted', async () => {
    const owner = await signedUpUser(server.client);
    const [live, trashed] = await uploadPhotos(server, owner.token, ['2024:03:03 10:00:00', '2024:03:04 10:00:00']);
    await server.client.deleteImage(owner.token, trashed!.id);
    const intruder = await signedUpUser(server.client);

    expect((await api.deleteForGood(owner.token, live!.id)).status).toBe(404);
    expect((await api.deleteForGood(intruder.token, trashed!.id)).status).toBe(404);
    expect((await api.deleteForGood(owner.token, 'x')).status).toBe(404);
    expect(await imageRows(server, owner.userId)).toHaveLength(2);
  });

  it('trash › empty › every photo in the trash goes for good, the gallery stays, storage exact', async () => {
    const { token, userId } = await signedUpUser(server.client);
    const photos = await uploadMany(server, token, 5);
    for (const photo of photos.slice(0, 3)) await server.client.deleteImage(token, photo.id);
    const other = await signedUpUser(server.client);
    const [theirs] = await uploadPhotos(server, other.token, ['2024:03:05 10:00:00']);
    await server.client.deleteImage(other.token, theirs!.id);

    const res = await api.emptyTrash(token);

    expect(res.status).toBe(200);
    expect(res.body.deleted).toBe(3);
    expect((await api.trash(token)).body.items).toEqual([]);
    expect((await server.client.list(token)).body.items).toHaveLength(2);
    const stored = await expectConsistent(server, userId);
    expect((await server.client.usage(token)).body.storage).toMatchObject({ usedBytes: stored, trashBytes: 0 });
    expect((await api.trash(other.token)).body.items).toHaveLength(1);
    expect((await api.emptyTrash(token)).body.deleted).toBe(0);
  });

  it('trash › the original Pixa’s /delete_image › still deletes for good', async () => {
    const { token, userId } = await signedUpUser(server.client);
    const [photo] = await uploadPhotos(server, token, ['2024:03:06 10:00:00']);

    const res = await server.client.request('POST', '/delete_image', { token, json: { link: photo!.urls.preview } });

    expect(res.status).toBe(200);
    expect(await imageRows(server, userId)).toEqual([]);
    expect((await api.trash(token)).body.items).toEqual([]);
    expect((await userRow(server, userId)).storage_used_bytes).toBe(0);
  });
});

describe('trash › PIXA_TRASH_DAYS=0', () => {
  let direct: ApiServer;
  beforeAll(async () => {
    direct = await startApiServer({ env: { PIXA_TRASH_DAYS: '0' } });
  });
  afterAll(() => direct?.close());

  it('trash › off › DELETE deletes for good at once, as before', async () => {
    const { token, userId } = await signedUpUser(direct.client);
    const [photo] = await uploadPhotos(direct, token, ['2024:04:01 10:00:00']);

    expect((await direct.client.deleteImage(token, photo!.id)).status).toBe(204);

    expect(await imageRows(direct, userId)).toEqual([]);
    expect((await userRow(direct, userId)).storage_used_bytes).toBe(0);
    expect(await objectKeysOf(direct, userId)).toEqual([]);
    expect((await direct.client.fetchMedia(photo!.urls.thumbnail)).status).toBe(404);
  });
});

describe.skipIf(EMBEDDED_ONLY)('trash › the sweeper', () => {
  const clock = manualClock(Date.now());
  const replicas: ApiServer[] = [];
  beforeAll(async () => {
    // Sign-ins outlast the days the clock moves.
    const env = { PIXA_TRASH_DAYS: '2', PIXA_TOKEN_TTL_HOURS: '8760' };
    replicas.push(await startApiServer({ env, now: clock.now }));
    replicas.push(await startApiServer({ env, now: clock.now, dataDir: replicas[0]!.dataDir }));
  });
  afterAll(async () => {
    for (const replica of replicas.reverse()) await replica.close();
  });

  it('trash › older than PIXA_TRASH_DAYS › purged once by two replicas; counters exact; restored and newer ones stay', async () => {
    const [first, second] = replicas as [ApiServer, ApiServer];
    const { token, userId } = await signedUpUser(first.client);
    const photos = await uploadMany(first, token, 6);
    const [keep, restored, ...old] = photos;
    for (const photo of [restored!, ...old]) await first.client.deleteImage(token, photo.id);
    clock.advance(DAY);
    const fresh = old.pop()!;
    await first.client.request('POST', '/api/v1/trash/restore', { token, json: { ids: [fresh.id] } });
    await first.client.deleteImage(token, fresh.id);
    await first.client.request('POST', '/api/v1/trash/restore', { token, json: { ids: [restored!.id] } });
    const listed = (await library(first).trash(token)).body.items;
    const purgeAt = Date.parse(listed.find((i) => i.id === old[0]!.id)!.purgeAt);
    expect(purgeAt).toBe(Date.parse(listed.find((i) => i.id === old[0]!.id)!.trashedAt) + 2 * DAY);

    clock.set(purgeAt - 1);
    expect(await first.pixa.images.purgeExpiredTrash()).toBe(0);
    clock.set(purgeAt);
    // One after the other: two in-process SQLite connections in one thread would wait on each other's
    // lock. Racing purges on a database server are pinned by the repository contract suite.
    expect(await first.pixa.images.purgeExpiredTrash()).toBe(old.length);
    expect(await second.pixa.images.purgeExpiredTrash()).toBe(0);

    const left = (await imageRows(first, userId)).map((row) => row.id).sort();
    expect(left).toEqual([keep!.id, restored!.id, fresh.id].sort());
    expect((await library(first).trash(token)).body.items.map((i) => i.id)).toEqual([fresh.id]);
    const stored = await expectConsistent(first, userId);
    const deletes = (await storageEvents(first, userId)).filter((e) => e.operation === 'delete');
    const uploads = (await storageEvents(first, userId)).filter((e) => e.operation === 'upload' && e.status === 201);
    expect(uploads.reduce((sum, e) => sum + e.bytes, 0) - deletes.reduce((sum, e) => sum + e.bytes, 0)).toBe(stored);
    expect(deletes).toHaveLength(old.length * 3);

    clock.advance(DAY);
    expect(await second.pixa.images.purgeExpiredTrash()).toBe(1);
    expect((await imageRows(first, userId)).map((row) => row.id).sort()).toEqual([keep!.id, restored!.id].sort());
    await expectConsistent(first, userId);
  });
});
