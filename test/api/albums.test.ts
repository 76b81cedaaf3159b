import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { signedUpUser } from '../helpers/api.js';
import { library, uploadMany, uploadPhotos } from './support/library.js';
import { startApiServer, type ApiServer } from './support/server.js';
import { imageRows } from './support/state.js';

let server: ApiServer;
let api: ReturnType<typeof library>;

beforeAll(async () => {
  server = await startApiServer();
  api = library(server);
});
afterAll(() => server?.close());

async function userWithAlbum(title = 'Holidays') {
  const user = await signedUpUser(server.client);
  const created = await api.createAlbum(user.token, { title });
  expect(created.status).toBe(201);
  return { ...user, album: created.body };
}

describe('albums › create, read, change, delete', () => {
  it('albums › create with title and description › 201 with an empty album', async () => {
    const { token } = await signedUpUser(server.client);

    const res = await api.createAlbum(token, { title: '  Summer 2024 ', description: 'Beach days' });

    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      title: 'Summer 2024',
      description: 'Beach days',
      count: 0,
      coverImageId: null,
      coverUrl: null,
      firstTakenAt: null,
      lastTakenAt: null,
    });
    expect((await api.getAlbum(token, res.body.id)).body).toEqual(res.body);
  });

  it.each([
    ['no title', {}],
    ['an empty title', { title: '' }],
    ['a title of spaces', { title: '   ' }],
    ['a title of 201 characters', { title: 'x'.repeat(201) }],
    ['a description of 2001 characters', { title: 'ok', description: 'x'.repeat(2001) }],
    ['an unknown field', { title: 'ok', owner: 'someone' }],
  ])('albums › create with %s › 400 and no album', async (_case, body) => {
    const { token } = await signedUpUser(server.client);

    const res = await api.createAlbum(token, body);

    expect(res.status).toBe(400);
    expect(res.body.error.message).toBeTruthy();
    expect((await api.listAlbums(token)).body.items).toEqual([]);
  });

  it('albums › a title of 200 and a description of 2000 characters › accepted', async () => {
    const { token } = await signedUpUser(server.client);
    const res = await api.createAlbum(token, { title: 'é'.repeat(200), description: 'd'.repeat(2000) });
    expect(res.status).toBe(201);
    expect(res.body.title).toBe('é'.repeat(200));
  });

  it('albums › rename and describe › the album changes, its photos do not', async () => {
    const { token, album } = await userWithAlbum();
    const [photo] = await uploadPhotos(server, token, ['2024:05:01 10:00:00']);
    await api.addToAlbum(token, album.id, [photo!.id]);

    const res = await api.updateAlbum(token, album.id, { title: 'Renamed', description: 'New words' });

    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: album.id, title: 'Renamed', description: 'New words', count: 1 });
    expect((await api.getAlbum(token, album.id)).body.title).toBe('Renamed');
  });

  it('albums › delete › 204, the album is gone, every photo stays in the gallery', async () => {
    const { token, album } = await userWithAlbum();
    const photos = await uploadPhotos(server, token, ['2024:01:01 10:00:00', '2024:01:02 10:00:00']);
    await api.addToAlbum(
      token,
      album.id,
      photos.map((p) => p.id),
    );

    const res = await api.deleteAlbum(token, album.id);

    expect(res.status).toBe(204);
    expect((await api.getAlbum(token, album.id)).status).toBe(404);
    expect((await api.listAlbums(token)).body.items).toEqual([]);
    const gallery = await server.client.list(token);
    expect(gallery.body.items.map((i) => i.id).sort()).toEqual(photos.map((p) => p.id).sort());
    expect(gallery.body.items.every((i) => i.albumIds.length === 0)).toBe(true);
    expect((await api.deleteAlbum(token, album.id)).status).toBe(404);
  });

  it("albums › another user's album, an unknown id and a malformed id › 404 on every route, nothing changed", async () => {
    const owner = await userWithAlbum('Mine');
    const [photo] = await uploadPhotos(server, owner.token, ['2024:02:02 10:00:00']);
    await api.addToAlbum(owner.token, owner.album.id, [photo!.id]);
    const intruder = await signedUpUser(server.client);
    const [theirs] = await uploadPhotos(server, intruder.token, ['2024:02:03 10:00:00']);

    for (const id of [owner.album.id, randomUUID(), 'not-an-id']) {
      const answers = [
        await api.getAlbum(intruder.token, id),
        await api.updateAlbum(intruder.token, id, { title: 'Taken' }),
        await api.albumImages(intruder.token, id),
        await api.addToAlbum(intruder.token, id, [theirs!.id]),
        await api.removeFromAlbum(intruder.token, id, [theirs!.id]),
        await api.deleteAlbum(intruder.token, id),
      ];
      expect(answers.map((a) => [id, a.status, a.body.error?.code])).toEqual(answers.map(() => [id, 404, 'not_found']));
    }
    const after = await api.getAlbum(owner.token, owner.album.id);
    expect(after.body).toMatchObject({ title: 'Mine', count: 1 });
  });

  it('albums › without a token › 401', async () => {
    const res = await server.client.request<{ error: { code: string } }>('GET', '/api/v1/albums');
    expect(res.status).toBe(401);
  });
});

describe('albums › photos', () => {
  it('albums › add photos › count, date range and cover (the newest) follow, the images list their albums', async () => {
    const { token, album } = await userWithAlbum();
    const [older, newer, outside] = await uploadPhotos(server, token, [
      '2023:06:01 10:00:00',
      '2024:08:15 18:30:00',
      '2025:01:01 00:00:00',
    ]);

    const res = await api.addToAlbum(token, album.id, [older!.id, newer!.id]);

    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      count: 2,
      firstTakenAt: '2023-06-01T10:00:00.000Z',
      lastTakenAt: '2024-08-15T18:30:00.000Z',
      coverImageId: null,
    });
    expect(res.body.coverUrl).toContain(`/api/v1/images/${newer!.id}/thumbnail?`);
    expect((await server.client.fetchMedia(res.body.coverUrl!)).status).toBe(200);
    const gallery = (await server.client.list(token)).body.items;
    expect(Object.fromEntries(gallery.map((i) => [i.id, i.albumIds]))).toEqual({
      [older!.id]: [album.id],
      [newer!.id]: [album.id],
      [outside!.id]: [],
    });
    expect((await server.client.getImage(token, older!.id)).body.albumIds).toEqual([album.id]);
  });

  it('albums › adding the same photos again, and repeated ids in one call › idempotent, each photo once', async () => {
    const { token, album } = await userWithAlbum();
    const [a, b] = await uploadPhotos(server, token, ['2024:03:01 10:00:00', '2024:03:02 10:00:00']);

    const first = await api.addToAlbum(token, album.id, [a!.id, a!.id, b!.id, a!.id]);
    const again = await api.addToAlbum(token, album.id, [b!.id, a!.id]);

    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    expect(again.body.count).toBe(2);
    const listed = await api.albumImages(token, album.id);
    expect(listed.body.items.map((i) => i.id)).toEqual([b!.id, a!.id]);
  });

  it('albums › a photo in two albums › both list it, its albumIds name both', async () => {
    const { token, album } = await userWithAlbum('One');
    const second = (await api.createAlbum(token, { title: 'Two' })).body;
    const [photo] = await uploadPhotos(server, token, ['2024:04:04 10:00:00']);

    await api.addToAlbum(token, album.id, [photo!.id]);
    await api.addToAlbum(token, second.id, [photo!.id]);

    expect((await api.albumImages(token, album.id)).body.items.map((i) => i.id)).toEqual([photo!.id]);
    expect((await api.albumImages(token, second.id)).body.items.map((i) => i.id)).toEqual([photo!.id]);
    expect((await server.client.getImage(token, photo!.id)).body.albumIds.sort()).toEqual([album.id, second.id].sort());
  });

  it("albums › adding a list with one of another user's photos › 404 naming it, nothing added", async () => {
    const { token, album } = await userWithAlbum();
    const [mine] = await uploadPhotos(server, token, ['2024:05:05 10:00:00']);
    const other = await signedUpUser(server.client);
    const [theirs] = await uploadPhotos(server, other.token, ['2024:05:06 10:00:00']);

    const res = await api.addToAlbum(token, album.id, [mine!.id, theirs!.id]);

    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
    expect(res.body.error.message).toContain(theirs!.id);
    expect(res.body.error.message).toContain('Nothing was changed');
    expect((await api.getAlbum(token, album.id)).body.count).toBe(0);
    expect((await server.client.getImage(other.token, theirs!.id)).body.albumIds).toEqual([]);
  });

  it('albums › unknown, malformed or trashed ids › 404, nothing added', async () => {
    const { token, album } = await userWithAlbum();
    const [mine, trashed] = await uploadPhotos(server, token, ['2024:05:07 10:00:00', '2024:05:08 10:00:00']);
    expect((await server.client.deleteImage(token, trashed!.id)).status).toBe(204);

    for (const bad of [randomUUID(), 'x', trashed!.id]) {
      const res = await api.addToAlbum(token, album.id, [mine!.id, bad]);
      expect([bad, res.status]).toEqual([bad, 404]);
    }
    expect((await api.getAlbum(token, album.id)).body.count).toBe(0);
  });

  it.each([
    ['501 ids', () => Array.from({ length: 501 }, () => randomUUID())],
    ['no ids', () => []],
  ])('albums › adding %s › 400, nothing added', async (_case, ids) => {
    const { token, album } = await userWithAlbum();

    const res = await api.addToAlbum(token, album.id, ids());

    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect((await api.getAlbum(token, album.id)).body.count).toBe(0);
  });

  it('albums › ids not a list, or a body missing › 400', async () => {
    const { token, album } = await userWithAlbum();
    const notList = await server.client.request<{ error: { code: string } }>(
      'PUT',
      `/api/v1/albums/${album.id}/images`,
      { token, json: { ids: 'abc' } },
    );
    const missing = await server.client.request<{ error: { code: string } }>(
      'PUT',
      `/api/v1/albums/${album.id}/images`,
      { token },
    );
    expect(notList.status).toBe(400);
    expect(missing.status).toBe(400);
  });

  it('albums › 500 ids at once › all added in one call', async () => {
    const { token, album } = await userWithAlbum();
    const photos = [...(await uploadMany(server, token, 20))];
    // 480 more ids repeating the 20: the limit counts what is sent, the album holds each photo once.
    const ids = Array.from({ length: 500 }, (_, i) => photos[i % photos.length]!.id);

    const res = await api.addToAlbum(token, album.id, ids);

    expect(res.status).toBe(200);
    expect(res.body.count).toBe(20);
  });

  it('albums › remove photos › they leave the album and stay in the gallery; removing again is fine', async () => {
    const { token, album } = await userWithAlbum();
    const [a, b] = await uploadPhotos(server, token, ['2024:06:01 10:00:00', '2024:06:02 10:00:00']);
    await api.addToAlbum(token, album.id, [a!.id, b!.id]);

    const res = await api.removeFromAlbum(token, album.id, [b!.id]);
    const again = await api.removeFromAlbum(token, album.id, [b!.id, b!.id]);

    expect(res.status).toBe(200);
    expect(res.body.count).toBe(1);
    expect(again.status).toBe(200);
    expect(again.body.count).toBe(1);
    expect((await api.albumImages(token, album.id)).body.items.map((i) => i.id)).toEqual([a!.id]);
    expect((await server.client.list(token)).body.items).toHaveLength(2);
  });

  it("albums › removing a list with another user's photo › 404, nothing removed", async () => {
    const { token, album } = await userWithAlbum();
    const [mine] = await uploadPhotos(server, token, ['2024:06:03 10:00:00']);
    await api.addToAlbum(token, album.id, [mine!.id]);
    const other = await signedUpUser(server.client);
    const [theirs] = await uploadPhotos(server, other.token, ['2024:06:04 10:00:00']);

    const res = await api.removeFromAlbum(token, album.id, [mine!.id, theirs!.id]);

    expect(res.status).toBe(404);
    expect((await api.getAlbum(token, album.id)).body.count).toBe(1);
  });

  it('albums › choose a cover › it is the cover; removing it from the album falls back to the newest', async () => {
    const { token, album } = await userWithAlbum();
    const [old, recent] = await uploadPhotos(server, token, ['2020:01:01 10:00:00', '2024:01:01 10:00:00']);
    await api.addToAlbum(token, album.id, [old!.id, recent!.id]);

    const chosen = await api.updateAlbum(token, album.id, { coverImageId: old!.id });
    expect(chosen.status).toBe(200);
    expect(chosen.body.coverImageId).toBe(old!.id);
    expect(chosen.body.coverUrl).toContain(`/images/${old!.id}/thumbnail`);

    const removed = await api.removeFromAlbum(token, album.id, [old!.id]);
    expect(removed.body.coverImageId).toBeNull();
    expect(removed.body.coverUrl).toContain(`/images/${recent!.id}/thumbnail`);
  });

  it('albums › a cover not in the album › 400 and the cover stays', async () => {
    const { token, album } = await userWithAlbum();
    const [inside, outside] = await uploadPhotos(server, token, ['2024:07:01 10:00:00', '2024:07:02 10:00:00']);
    await api.addToAlbum(token, album.id, [inside!.id]);

    const res = await api.updateAlbum(token, album.id, { coverImageId: outside!.id });

    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('cover_not_in_album');
    expect((await api.getAlbum(token, album.id)).body.coverUrl).toContain(`/images/${inside!.id}/`);
  });

  it('albums › the list › newest activity first, each with its own count', async () => {
    const { token } = await signedUpUser(server.client);
    const first = (await api.createAlbum(token, { title: 'First' })).body;
    const second = (await api.createAlbum(token, { title: 'Second' })).body;
    const [photo] = await uploadPhotos(server, token, ['2024:09:09 10:00:00']);
    // Adding a photo is activity: the older album comes first again.
    await new Promise((resolve) => setTimeout(resolve, 5));
    await api.addToAlbum(token, first.id, [photo!.id]);

    const res = await api.listAlbums(token);

    expect(res.status).toBe(200);
    expect(res.body.items.map((a) => [a.title, a.count])).toEqual([
      ['First', 1],
      ['Second', 0],
    ]);
    expect(second.id).not.toBe(first.id);
  });

  it('albums › pages › keyset pages in the gallery order, no photo skipped or repeated', async () => {
    const { token, album } = await userWithAlbum();
    const photos = await uploadMany(server, token, 13);
    await api.addToAlbum(
      token,
      album.id,
      photos.map((p) => p.id),
    );
    const gallery = (await server.client.list(token, '?limit=200')).body.items.map((i) => i.id);

    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 20; page++) {
      const query: string = `?limit=4${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const res = await api.albumImages(token, album.id, query);
      expect(res.status).toBe(200);
      seen.push(...res.body.items.map((i) => i.id));
      cursor = res.body.nextCursor;
      if (!cursor) break;
    }

    expect(seen).toEqual(gallery);
    expect((await api.albumImages(token, album.id, '?cursor=bogus')).status).toBe(400);
  });

  it('albums › a photo moved to the trash › leaves the album listing and count, and returns with a restore', async () => {
    const { token, album } = await userWithAlbum();
    const [a, b] = await uploadPhotos(server, token, ['2024:10:01 10:00:00', '2024:10:02 10:00:00']);
    await api.addToAlbum(token, album.id, [a!.id, b!.id]);

    await server.client.deleteImage(token, b!.id);
    expect((await api.albumImages(token, album.id)).body.items.map((i) => i.id)).toEqual([a!.id]);
    expect((await api.getAlbum(token, album.id)).body).toMatchObject({ count: 1 });

    await api.restore(token, [b!.id]);
    expect((await api.albumImages(token, album.id)).body.items.map((i) => i.id)).toEqual([b!.id, a!.id]);
    expect((await api.getAlbum(token, album.id)).body.count).toBe(2);
  });

  it('albums › a photo deleted for good › leaves every album; the rows of the album are gone with it', async () => {
    const { token, userId, album } = await userWithAlbum();
    const [photo] = await uploadPhotos(server, token, ['2024:11:01 10:00:00']);
    await api.addToAlbum(token, album.id, [photo!.id]);
    await server.client.deleteImage(token, photo!.id);

    expect((await api.deleteForGood(token, photo!.id)).status).toBe(204);

    expect((await api.getAlbum(token, album.id)).body).toMatchObject({ count: 0, coverUrl: null });
    expect(await imageRows(server, userId)).toEqual([]);
    const memberships = await server.db
      .selectFrom('album_images')
      .selectAll()
      .where('album_id', '=', album.id)
      .execute();
    expect(memberships).toEqual([]);
  });
});
