import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { signedUpUser } from '../helpers/api.js';
import { library, uploadPhotos } from './support/library.js';
import { startApiServer, type ApiServer } from './support/server.js';

let server: ApiServer;
let api: ReturnType<typeof library>;

beforeAll(async () => {
  server = await startApiServer();
  api = library(server);
});
afterAll(() => server?.close());

describe('favourites', () => {
  it('favourites › mark one › 204, the image says so, ?favorite=true lists only favourites', async () => {
    const { token } = await signedUpUser(server.client);
    const [a, b, c] = await uploadPhotos(server, token, [
      '2024:01:01 10:00:00',
      '2024:01:02 10:00:00',
      '2024:01:03 10:00:00',
    ]);
    expect(a!.favorite).toBe(false);

    expect((await api.favorite(token, a!.id)).status).toBe(204);
    expect((await api.favorite(token, c!.id)).status).toBe(204);

    expect((await server.client.getImage(token, a!.id)).body.favorite).toBe(true);
    const favourites = await server.client.list(token, '?favorite=true');
    expect(favourites.status).toBe(200);
    expect(favourites.body.items.map((i) => [i.id, i.favorite])).toEqual([
      [c!.id, true],
      [a!.id, true],
    ]);
    const all = await server.client.list(token, '?favorite=false');
    expect(all.body.items.map((i) => i.id)).toEqual([c!.id, b!.id, a!.id]);
  });

  it('favourites › mark twice, unmark twice › idempotent', async () => {
    const { token } = await signedUpUser(server.client);
    const [photo] = await uploadPhotos(server, token, ['2024:02:01 10:00:00']);

    expect((await api.favorite(token, photo!.id)).status).toBe(204);
    expect((await api.favorite(token, photo!.id)).status).toBe(204);
    expect((await server.client.list(token, '?favorite=true')).body.items).toHaveLength(1);
    expect((await api.unfavorite(token, photo!.id)).status).toBe(204);
    expect((await api.unfavorite(token, photo!.id)).status).toBe(204);

    expect((await server.client.list(token, '?favorite=true')).body.items).toEqual([]);
    expect((await server.client.getImage(token, photo!.id)).body.favorite).toBe(false);
  });

  it('favourites › pages of favourites › keyset pages, none skipped or repeated', async () => {
    const { token } = await signedUpUser(server.client);
    const photos = await uploadPhotos(
      server,
      token,
      Array.from({ length: 7 }, (_, i) => `2024:03:0${i + 1} 10:00:00`),
    );
    const chosen = photos.filter((_, i) => i % 2 === 0);
    for (const photo of chosen) await api.favorite(token, photo.id);

    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const query: string = `?favorite=true&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const res = await server.client.list(token, query);
      seen.push(...res.body.items.map((i) => i.id));
      cursor = res.body.nextCursor;
      if (!cursor) break;
    }

    expect(seen).toEqual(chosen.map((p) => p.id).reverse());
  });

  it("favourites › another user's photo, an unknown or malformed id › 404, nothing marked", async () => {
    const owner = await signedUpUser(server.client);
    const [photo] = await uploadPhotos(server, owner.token, ['2024:04:01 10:00:00']);
    const intruder = await signedUpUser(server.client);

    for (const id of [photo!.id, randomUUID(), 'nope']) {
      const marked = await api.favorite(intruder.token, id);
      const unmarked = await api.unfavorite(intruder.token, id);
      expect([id, marked.status, marked.body.error.code, unmarked.status]).toEqual([id, 404, 'not_found', 404]);
    }
    expect((await server.client.getImage(owner.token, photo!.id)).body.favorite).toBe(false);
  });

  it('favourites › a photo in the trash › cannot be marked, leaves the favourites, and is still one after a restore', async () => {
    const { token } = await signedUpUser(server.client);
    const [kept, trashed] = await uploadPhotos(server, token, ['2024:05:01 10:00:00', '2024:05:02 10:00:00']);
    await api.favorite(token, kept!.id);
    await api.favorite(token, trashed!.id);

    await server.client.deleteImage(token, trashed!.id);

    expect((await server.client.list(token, '?favorite=true')).body.items.map((i) => i.id)).toEqual([kept!.id]);
    expect((await api.unfavorite(token, trashed!.id)).status).toBe(404);
    await api.restore(token, [trashed!.id]);
    expect((await server.client.list(token, '?favorite=true')).body.items.map((i) => i.id)).toEqual([
      trashed!.id,
      kept!.id,
    ]);
  });

  it('favourites › without a token › 401', async () => {
    const res = await server.client.request<{ error: { code: string } }>(
      'PUT',
      `/api/v1/images/${randomUUID()}/favorite`,
    );
    expect(res.status).toBe(401);
  });
});
