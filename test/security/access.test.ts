import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { signedUpUser, type ImageBody } from '../helpers/api.js';
import { makePhoto, sha256 } from '../helpers/photos.js';
import { startTestServer, storedBytes, type TestServer } from '../helpers/server.js';
import { integrityOf, NO_PROBLEMS, problemsOf } from '../faults/support/integrity.js';

let server: TestServer;
let api: TestServer['client'];

beforeAll(async () => {
  server = await startTestServer();
  api = server.client;
});
afterAll(() => server?.close());

async function keyOfRow(imageId: string): Promise<string> {
  const row = await server.db
    .selectFrom('images')
    .select('object_prefix')
    .where('id', '=', imageId)
    .executeTakeFirstOrThrow();
  return `${row.object_prefix}original`;
}

/** Everything of an account another account must not be able to see or change. */
async function snapshot(token: string, image: ImageBody) {
  // Read from the store, not over HTTP: a download would itself change the transfer counted.
  const original = await storedBytes(server, await keyOfRow(image.id));
  const usage = await api.usage(token);
  const list = await api.list(token);
  return {
    originalSha: sha256(original),
    storage: usage.body.storage,
    transfer: usage.body.transfer.usedBytes,
    ids: list.body.items.map((item) => item.id),
  };
}

describe('one account against another', () => {
  test('access › A uses B’s image id and B’s signed URLs on every route › 404 or 403, and nothing of B changes', async () => {
    const [a, b] = await Promise.all([signedUpUser(api, 'ana'), signedUpUser(api, 'bo')]);
    const photo = await makePhoto({ width: 640, height: 480, seed: 501 });
    const uploaded = await api.upload(b.token, [{ name: 'private.jpg', data: photo }]);
    expect(uploaded.status).toBe(201);
    const image = uploaded.body.images[0]!;
    const before = await snapshot(b.token, image);
    const aBefore = (await api.usage(a.token)).body;

    const attempts: [string, string, { token?: string; json?: unknown }][] = [
      ['GET', `/api/v1/images/${image.id}`, { token: a.token }],
      ['DELETE', `/api/v1/images/${image.id}`, { token: a.token }],
      ...(['original', 'preview', 'thumbnail'] as const).map(
        (variant) => ['GET', `/api/v1/images/${image.id}/${variant}`, { token: a.token }] as [string, string, object],
      ),
      // B's own signed links, presented together with A's token: the token decides, and A owns nothing here.
      ...Object.values(image.urls).map((url) => ['GET', url, { token: a.token }] as [string, string, object]),
      // The original Pixa's delete endpoint, given B's link.
      ['POST', '/delete_image', { token: a.token, json: { link: `${server.url}${image.urls.preview}` } }],
      ['POST', '/delete_image', { token: a.token, json: { link: image.urls.original } }],
    ];
    for (const [method, path, options] of attempts) {
      const res = await api.request<{ error: { code: string } }>(method, path, options);
      expect([method, path, res.status]).toEqual([method, path, 404]);
      expect(res.body.error.code).toBe('not_found');
    }

    // A signature for one variant or image does not open another; a signature from another secret opens nothing.
    const thumbQuery = image.urls.thumbnail.split('?')[1]!;
    const forged = image.urls.original.replace(/sig=[^&]+/, `sig=${'A'.repeat(43)}`);
    for (const url of [`/api/v1/images/${image.id}/original?${thumbQuery}`, forged]) {
      const res = await api.fetchMedia(url);
      expect([url, res.status]).toEqual([url, 403]);
    }

    expect(await snapshot(b.token, image)).toEqual(before);
    expect(before.originalSha).toBe(sha256(photo));
    const aAfter = (await api.usage(a.token)).body;
    expect(aAfter.transfer.usedBytes).toBe(aBefore.transfer.usedBytes);
    expect(problemsOf(await integrityOf(server))).toEqual(NO_PROBLEMS);
  });

  test('access › B’s signed URL after B deleted the image › 404, and an expiry in the past › 403', async () => {
    const b = await signedUpUser(api, 'bo');
    const res = await api.upload(b.token, [{ name: 'gone.jpg', data: await makePhoto({ width: 300, height: 200 }) }]);
    const image = res.body.images[0]!;
    const expired = image.urls.preview.replace(/exp=\d+/, 'exp=1000000000');

    expect((await api.fetchMedia(expired)).status).toBe(403);
    expect((await api.deleteForGood(b.token, image.id)).status).toBe(204);
    expect((await api.fetchMedia(image.urls.preview)).status).toBe(404);
  });

  test('access › the media route without signature or token › 401, and a signature with no expiry › 401 or 403', async () => {
    const b = await signedUpUser(api, 'bo');
    const res = await api.upload(b.token, [{ name: 'x.jpg', data: await makePhoto({ width: 300, height: 200 }) }]);
    const image = res.body.images[0]!;
    const bare = `/api/v1/images/${image.id}/original`;
    const sigOnly = `${bare}?${image.urls.original.split('?')[1]!.replace(/exp=\d+&?/, '')}`;

    expect((await api.fetchMedia(bare)).status).toBe(401);
    expect([401, 403]).toContain((await api.fetchMedia(sigOnly)).status);
  });
});
