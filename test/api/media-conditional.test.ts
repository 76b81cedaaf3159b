import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { signedUpUser } from '../helpers/api.js';
import { makePhoto } from '../helpers/photos.js';
import { startApiServer, type ApiServer } from './support/server.js';
import { storageEvents, transferCounters } from './support/state.js';

let server: ApiServer;

beforeAll(async () => {
  server = await startApiServer();
});
afterAll(() => server?.close());

const VARIANTS = ['original', 'preview', 'thumbnail'] as const;

async function userWithPhoto(seed = 1) {
  const user = await signedUpUser(server.client);
  const res = await server.client.upload(user.token, [{ name: 'photo.jpg', data: await makePhoto({ seed }) }]);
  if (res.status !== 201) throw new Error(`upload failed: ${res.status}`);
  return { ...user, image: res.body.images[0]! };
}

/** The ETag a URL is served with, learnt by a HEAD (which charges and logs nothing). */
async function etagOf(url: string): Promise<string> {
  const res = await fetch(new URL(url, server.url), { method: 'HEAD' });
  return res.headers.get('etag')!;
}

/** The URL with one query parameter replaced, or removed when `value` is undefined. */
function withParam(url: string, name: string, value: string | undefined): string {
  const parsed = new URL(url, 'http://x');
  if (value === undefined) parsed.searchParams.delete(name);
  else parsed.searchParams.set(name, value);
  return `${parsed.pathname}${parsed.search}`;
}

/**
 * The download events of an account once a marker thumbnail view (batched, so about a second late)
 * is in the log: any event of an earlier request would be there by then too.
 */
async function downloadsAfterMarker(userId: string, markerUrl: string) {
  expect((await server.client.fetchMedia(markerUrl)).status).toBe(200);
  let downloads: Awaited<ReturnType<typeof storageEvents>> = [];
  for (let attempt = 0; attempt < 50 && downloads.length === 0; attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100));
    downloads = (await storageEvents(server, userId)).filter((e) => e.operation === 'download');
  }
  return downloads;
}

describe('media › conditional requests', () => {
  it('media › every variant by its signed URL with a matching If-None-Match, never downloaded › returns 304, charges nothing, logs no download', async () => {
    const { image, userId } = await userWithPhoto();
    const before = await transferCounters(server, userId);

    for (const variant of VARIANTS) {
      const etag = await etagOf(image.urls[variant]);
      const res = await server.client.fetchMedia(image.urls[variant], { 'if-none-match': etag });

      expect(res.status).toBe(304);
      expect(res.body.length).toBe(0);
      expect(res.headers.get('etag')).toBe(etag);
      expect(res.headers.get('cache-control')).toMatch(/\bimmutable\b/);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }

    expect(await transferCounters(server, userId)).toEqual(before);
    const downloads = await downloadsAfterMarker(userId, image.urls.thumbnail);
    expect(downloads).toHaveLength(1);
  });

  it('media › every variant with the owner’s Bearer token and a matching If-None-Match › returns 304, charges nothing, logs no download', async () => {
    const { image, userId, token } = await userWithPhoto();
    const before = await transferCounters(server, userId);

    for (const variant of VARIANTS) {
      const etag = await etagOf(image.urls[variant]);
      const res = await server.client.request<Buffer>('GET', `/api/v1/images/${image.id}/${variant}`, {
        token,
        headers: { 'if-none-match': etag },
      });

      expect(res.status).toBe(304);
      expect(res.headers.get('etag')).toBe(etag);
    }

    expect(await transferCounters(server, userId)).toEqual(before);
    const downloads = await downloadsAfterMarker(userId, image.urls.thumbnail);
    expect(downloads).toHaveLength(1);
  });

  it('media › a matching If-None-Match with a Range › returns 304, not 206', async () => {
    const { image } = await userWithPhoto();
    const etag = await etagOf(image.urls.original);

    const res = await server.client.fetchMedia(image.urls.original, { 'if-none-match': etag, range: 'bytes=0-99' });

    expect(res.status).toBe(304);
  });

  it('media › HEAD with a matching If-None-Match › returns 304', async () => {
    const { image } = await userWithPhoto();
    const etag = await etagOf(image.urls.thumbnail);

    const res = await fetch(new URL(image.urls.thumbnail, server.url), {
      method: 'HEAD',
      headers: { 'if-none-match': etag },
    });

    expect(res.status).toBe(304);
  });

  it('media › another account’s Bearer token, a signed URL and a matching If-None-Match › returns 404, not 304', async () => {
    const { image } = await userWithPhoto();
    const etag = await etagOf(image.urls.thumbnail);
    const mallory = await signedUpUser(server.client);

    const res = await server.client.request<{ error: { code: string } }>('GET', image.urls.thumbnail, {
      token: mallory.token,
      headers: { 'if-none-match': etag },
    });

    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });

  it('media › a deleted image’s signed thumbnail URL with a matching If-None-Match › returns 404, not 304', async () => {
    const { image, token } = await userWithPhoto();
    const etag = await etagOf(image.urls.thumbnail);
    await server.client.deleteForGood(token, image.id);

    const res = await server.client.fetchMedia(image.urls.thumbnail, { 'if-none-match': etag });

    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });

  it('media › a signed thumbnail URL with a matching If-None-Match but an altered signature › returns 403', async () => {
    const { image } = await userWithPhoto();
    const etag = await etagOf(image.urls.thumbnail);
    const sig = new URL(image.urls.thumbnail, 'http://x').searchParams.get('sig')!;

    const res = await server.client.fetchMedia(
      withParam(image.urls.thumbnail, 'sig', `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`),
      { 'if-none-match': etag },
    );

    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('invalid_signature');
  });
});

describe('media › the owner in signed URLs', () => {
  it('media › a signed URL › names its owner as u', async () => {
    const { image, userId } = await userWithPhoto();

    for (const variant of VARIANTS) {
      expect(new URL(image.urls[variant], 'http://x').searchParams.get('u')).toBe(userId);
    }
  });

  it('media › u changed to another account › returns 403 invalid_signature', async () => {
    const { image } = await userWithPhoto();
    const other = await userWithPhoto(2);

    const res = await server.client.fetchMedia(withParam(image.urls.thumbnail, 'u', other.userId));

    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('invalid_signature');
  });

  it('media › a link without u, or with an empty one › returns 403 invalid_signature', async () => {
    const { image } = await userWithPhoto();

    for (const u of [undefined, '']) {
      const res = await server.client.fetchMedia(withParam(image.urls.thumbnail, 'u', u));

      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('invalid_signature');
    }
  });
});
