import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { signedUpUser, type ImageBody } from '../helpers/api.js';
import { makePhoto } from '../helpers/photos.js';
import { startApiServer, type ApiServer } from './support/server.js';
import { objectKeysOf, storageEvents, userRow } from './support/state.js';

let server: ApiServer;

beforeAll(async () => {
  server = await startApiServer();
});
afterAll(() => server?.close());

let seed = 100;
/** Uploads one small photo per date (EXIF `YYYY:MM:DD HH:MM:SS`, or undefined for none), one request each. */
async function uploadDated(token: string, dates: (string | undefined)[]): Promise<ImageBody[]> {
  const out: ImageBody[] = [];
  for (const takenAt of dates) {
    const data = await makePhoto({ width: 160, height: 120, seed: seed++, takenAt });
    const res = await server.client.upload(token, [{ name: `${takenAt ?? 'undated'}.jpg`, data }]);
    if (res.status !== 201) throw new Error(`upload failed: ${res.status} ${JSON.stringify(res.body)}`);
    out.push(res.body.images[0]!);
  }
  return out;
}

/** Every page of the gallery, following nextCursor; `between` runs after each page. */
async function allPages(token: string, limit: number, between?: (page: number) => Promise<void>) {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 100; page++) {
    const query: string = `?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await server.client.list(token, query);
    expect(res.status).toBe(200);
    expect(res.body.items.length).toBeLessThanOrEqual(limit);
    ids.push(...res.body.items.map((item) => item.id));
    cursor = res.body.nextCursor;
    if (!cursor) return ids;
    await between?.(page);
  }
  throw new Error('pagination did not end');
}

describe('gallery › listing', () => {
  it('gallery › photos with and without EXIF dates › newest taken first', async () => {
    const { token } = await signedUpUser(server.client);
    const [y2019, y2021, y2020, undated] = await uploadDated(token, [
      '2019:03:01 08:00:00',
      '2021:03:01 08:00:00',
      '2020:03:01 08:00:00',
      undefined,
    ]);

    const res = await server.client.list(token);

    expect(res.status).toBe(200);
    expect(res.body.items.map((i) => i.id)).toEqual([undated!.id, y2021!.id, y2020!.id, y2019!.id]);
    expect(res.body.nextCursor).toBeNull();
    expect(res.body.items[1]).toEqual({ ...y2021, duplicate: undefined });
    for (const item of res.body.items) {
      const thumb = await server.client.fetchMedia(item.urls.thumbnail);
      expect(thumb.status).toBe(200);
      expect(thumb.headers.get('content-type')).toBe('image/webp');
    }
  });

  it('gallery › a new account › lists nothing', async () => {
    const { token } = await signedUpUser(server.client);

    const res = await server.client.list(token);

    expect(res.body).toEqual({ items: [], nextCursor: null });
  });

  it('gallery › pages of 2 › cover every image once, in order, and end with a null cursor', async () => {
    const { token } = await signedUpUser(server.client);
    const images = await uploadDated(
      token,
      [1, 2, 3, 4, 5].map((d) => `2020:01:0${d} 00:00:00`),
    );

    const ids = await allPages(token, 2);

    expect(ids).toEqual(images.map((i) => i.id).reverse());
  });

  it('gallery › several photos taken the same second › pages of 1 still cover each once', async () => {
    const { token } = await signedUpUser(server.client);
    const images = await uploadDated(token, Array(4).fill('2018:07:07 07:07:07'));

    const ids = await allPages(token, 1);

    expect(ids.slice().sort()).toEqual(images.map((i) => i.id).sort());
    expect(new Set(ids).size).toBe(4);
  });

  it('gallery › uploads between page fetches › no duplicates and no gaps among the images that were there', async () => {
    const { token } = await signedUpUser(server.client);
    const before = await uploadDated(
      token,
      [1, 2, 3, 4, 5, 6].map((d) => `2020:02:0${d} 12:00:00`),
    );
    const added: ImageBody[] = [];

    const ids = await allPages(token, 2, async (page) => {
      // Newer than everything, older than everything, and one exactly on an already-seen date.
      // Each "older" one is older than all before it, so it lies past every cursor and must show up.
      added.push(...(await uploadDated(token, [`2024:0${page + 1}:01 00:00:00`, `${2010 - page}:01:01 00:00:00`])));
      if (page === 0) added.push(...(await uploadDated(token, ['2020:02:06 12:00:00'])));
    });

    expect(new Set(ids).size).toBe(ids.length);
    for (const image of before) expect(ids).toContain(image.id);
    const older = added.filter((i) => i.takenAt < '2011');
    for (const image of older) expect(ids).toContain(image.id);
    const newer = added.filter((i) => i.takenAt.startsWith('2024'));
    for (const image of newer) expect(ids).not.toContain(image.id);
    const listed = await allPages(token, 100);
    expect(listed).toHaveLength(before.length + added.length);
  });

  it.each([
    ['limit=0', 'validation_failed'],
    ['limit=201', 'validation_failed'],
    ['limit=ten', 'validation_failed'],
    ['cursor=not-a-cursor', 'invalid_cursor'],
    [`cursor=${Buffer.from('1.x').toString('base64url')}`, 'invalid_cursor'],
  ])('gallery › ?%s › returns 400 %s', async (query, code) => {
    const { token } = await signedUpUser(server.client);

    const res = await server.client.list(token, `?${query}`);

    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe(code);
  });
});

describe('gallery › one image', () => {
  it('gallery › GET /images/:id › returns the image as listed', async () => {
    const { token } = await signedUpUser(server.client);
    const [image] = await uploadDated(token, ['2017:01:01 00:00:00']);

    const res = await server.client.getImage(token, image!.id);

    expect(res.status).toBe(200);
    const { duplicate: _duplicate, ...listed } = image!;
    expect(res.body).toEqual(listed);
  });

  it('gallery › DELETE, then out of the trash › 204, frees the quota at once, removes the objects and logs them', async () => {
    const user = await signedUpUser(server.client);
    const [keep, doomed] = await uploadDated(user.token, ['2017:01:01 00:00:00', '2017:01:02 00:00:00']);
    const keepObjects = (await objectKeysOf(server, user.userId)).filter((k) => k.includes(keep!.id));
    const usedWithKeep = async () => (await server.client.usage(user.token)).body.storage.usedBytes;
    const usedBefore = await usedWithKeep();

    const res = await server.client.deleteForGood(user.token, doomed!.id);

    expect(res.status).toBe(204);
    const deletes = (await storageEvents(server, user.userId)).filter((e) => e.operation === 'delete');
    const freed = deletes.reduce((sum, e) => sum + e.bytes, 0);
    expect(deletes.map((e) => e.object_key).sort()).toEqual(
      ['original', 'preview.webp', 'thumb.webp'].map((name) => `${user.userId}/${doomed!.id}/${name}`),
    );
    expect(await usedWithKeep()).toBe(usedBefore - freed);
    expect((await userRow(server, user.userId)).storage_used_bytes).toBe(usedBefore - freed);
    expect(await objectKeysOf(server, user.userId)).toEqual(keepObjects);
    expect((await server.client.getImage(user.token, doomed!.id)).status).toBe(404);
    expect((await server.client.list(user.token)).body.items.map((i) => i.id)).toEqual([keep!.id]);
  });

  it('gallery › DELETE twice › the second returns 404', async () => {
    const { token } = await signedUpUser(server.client);
    const [image] = await uploadDated(token, [undefined]);
    await server.client.deleteImage(token, image!.id);

    const res = await server.client.deleteImage(token, image!.id);

    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });

  it('gallery › a photo deleted for good uploaded again › is a new image, not a duplicate', async () => {
    const { token } = await signedUpUser(server.client);
    const data = await makePhoto({ seed: 4242, width: 200, height: 150 });
    const first = await server.client.upload(token, [{ name: 'a.jpg', data }]);
    await server.client.deleteForGood(token, first.body.images[0]!.id);

    const again = await server.client.upload(token, [{ name: 'a.jpg', data }]);

    expect(again.status).toBe(201);
    expect(again.body.images[0]!.duplicate).toBe(false);
  });
});

describe('gallery › two accounts', () => {
  it('gallery › another account › sees none of my images in its list', async () => {
    const [ana, bo] = await Promise.all([signedUpUser(server.client), signedUpUser(server.client)]);
    await uploadDated(ana.token, [undefined]);

    const res = await server.client.list(bo.token);

    expect(res.body.items).toEqual([]);
  });

  it('gallery › another account’s image id › every route answers exactly as for a nonexistent id, and nothing changes', async () => {
    const [ana, bo] = await Promise.all([signedUpUser(server.client), signedUpUser(server.client)]);
    const [image] = await uploadDated(ana.token, ['2016:06:06 06:06:06']);
    const missing = '01900000-0000-7000-8000-000000000000';
    const routes = (id: string): [string, string][] => [
      ['GET', `/api/v1/images/${id}`],
      ['DELETE', `/api/v1/images/${id}`],
      ['GET', `/api/v1/images/${id}/original`],
      ['GET', `/api/v1/images/${id}/preview`],
      ['GET', `/api/v1/images/${id}/thumbnail`],
      ['GET', `/api/v1/images/${id}/original?download=1`],
    ];

    for (const [[method, path], [, missingPath]] of routes(image!.id).map(
      (r, i) => [r, routes(missing)[i]!] as const,
    )) {
      const theirs = await server.client.request(method, path, { token: bo.token });
      const none = await server.client.request(method, missingPath, { token: bo.token });
      expect([method, path, theirs.status]).toEqual([method, path, 404]);
      expect(theirs.body).toEqual(none.body);
    }

    expect((await server.client.getImage(ana.token, image!.id)).status).toBe(200);
    expect((await server.client.fetchMedia(image!.urls.original)).status).toBe(200);
    expect((await objectKeysOf(server, ana.userId)).length).toBe(3);
  });

  it('gallery › another account’s signed URL with its own token › 404, and its quota is untouched', async () => {
    const [ana, bo] = await Promise.all([signedUpUser(server.client), signedUpUser(server.client)]);
    const [image] = await uploadDated(ana.token, [undefined]);

    const res = await server.client.request('GET', image!.urls.original, { token: bo.token });

    expect(res.status).toBe(404);
    const usage = (await server.client.usage(bo.token)).body;
    expect(usage.transfer.usedBytes).toBe(0);
  });
});

describe('gallery › malformed ids', () => {
  it.each([
    ['a word', 'abc'],
    ['an upper-case UUID', '01900000-0000-7000-8000-00000000000A'],
    ['an encoded path', '..%2F..%2Fsecret.key'],
    ['SQL', "1'%20OR%20'1'='1"],
    ['a very long id', 'f'.repeat(150)],
    ['an id longer than the router allows', 'f'.repeat(300)],
    ['percent-encoded NUL', '%00'],
  ])('gallery › %s as image id › every route returns 404 JSON', async (_case, id) => {
    const { token } = await signedUpUser(server.client);

    for (const [method, path] of [
      ['GET', `/api/v1/images/${id}`],
      ['DELETE', `/api/v1/images/${id}`],
      ['GET', `/api/v1/images/${id}/original`],
      ['GET', `/api/v1/images/${id}/thumbnail?exp=1&sig=x`],
    ] as const) {
      const res = await server.client.request<{ error: { code: string } }>(method, path, {
        token: path.includes('sig=') ? undefined : token,
      });
      expect([method, path, res.status]).toEqual([method, path, 404]);
      expect(res.body.error.code).toBe('not_found');
    }
  });

  it('gallery › an unknown variant › returns 404 JSON', async () => {
    const { token } = await signedUpUser(server.client);
    const [image] = await uploadDated(token, [undefined]);

    const res = await server.client.request<{ error: { code: string } }>('GET', `/api/v1/images/${image!.id}/secret`, {
      token,
    });

    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });
});
