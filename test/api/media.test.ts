import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { signedUpUser } from '../helpers/api.js';
import { makePhoto, sha256 } from '../helpers/photos.js';
import { EMBEDDED_ONLY, manualClock, startApiServer, type ApiServer } from './support/server.js';
import { storageEvents, transferCounters, transferFromLog } from './support/state.js';

let server: ApiServer;

beforeAll(async () => {
  server = await startApiServer();
});
afterAll(() => server?.close());

async function userWithPhoto(name = 'photo.jpg', seed = 1) {
  const user = await signedUpUser(server.client);
  const data = await makePhoto({ seed, takenAt: '2022:05:01 12:00:00' });
  const res = await server.client.upload(user.token, [{ name, data, type: 'image/jpeg' }]);
  if (res.status !== 201) throw new Error(`upload failed: ${res.status}`);
  return { ...user, data, image: res.body.images[0]! };
}

/** The URL with one query parameter replaced. */
function withParam(url: string, name: string, value: string): string {
  const parsed = new URL(url, 'http://x');
  parsed.searchParams.set(name, value);
  return `${parsed.pathname}${parsed.search}`;
}

describe('media › signed URLs', () => {
  it.each([
    ['original', 'image/jpeg'],
    ['preview', 'image/webp'],
    ['thumbnail', 'image/webp'],
  ] as const)(
    'media › %s by its signed URL, no header › returns 200 %s, nosniff and long private caching',
    async (variant, type) => {
      const { image } = await userWithPhoto();

      const res = await server.client.fetchMedia(image.urls[variant]);

      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(type);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      const cache = res.headers.get('cache-control') ?? '';
      expect(cache).toMatch(/\bprivate\b/);
      expect(Number(/max-age=(\d+)/.exec(cache)?.[1])).toBeGreaterThanOrEqual(86_400);
      expect(res.headers.get('etag')).toMatch(/^"[^"]+"$/);
      expect(Number(res.headers.get('content-length'))).toBe(res.body.length);
    },
  );

  it('media › original › is the uploaded file byte for byte', async () => {
    const { image, data } = await userWithPhoto();

    const res = await server.client.fetchMedia(image.urls.original);

    expect(sha256(res.body)).toBe(sha256(data));
  });

  it('media › the owner’s Bearer token without a signature › returns 200', async () => {
    const { image, token } = await userWithPhoto();

    const res = await server.client.request('GET', `/api/v1/images/${image.id}/thumbnail`, { token });

    expect(res.status).toBe(200);
  });

  it('media › neither signature nor token › returns 401', async () => {
    const { image } = await userWithPhoto();

    const res = await server.client.fetchMedia(`/api/v1/images/${image.id}/original`);

    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
  });

  it('media › another user’s token with the signed URL › returns 404', async () => {
    const { image } = await userWithPhoto();
    const mallory = await signedUpUser(server.client);

    const res = await server.client.request<{ error: { code: string } }>('GET', image.urls.original, {
      token: mallory.token,
    });

    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });

  it('media › signature altered › returns 403 invalid_signature', async () => {
    const { image } = await userWithPhoto();
    const sig = new URL(image.urls.original, 'http://x').searchParams.get('sig')!;
    const altered = withParam(image.urls.original, 'sig', `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`);

    const res = await server.client.fetchMedia(altered);

    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('invalid_signature');
  });

  it('media › expiry pushed later, signature kept › returns 403', async () => {
    const { image } = await userWithPhoto();
    const exp = Number(new URL(image.urls.original, 'http://x').searchParams.get('exp'));

    const res = await server.client.fetchMedia(withParam(image.urls.original, 'exp', String(exp + 86_400)));

    expect(res.status).toBe(403);
  });

  it('media › a thumbnail signature on the original, or on another image › returns 403', async () => {
    const a = await userWithPhoto('a.jpg', 1);
    const other = await server.client.upload(a.token, [{ name: 'b.jpg', data: await makePhoto({ seed: 2 }) }]);
    const b = other.body.images[0]!;
    const thumbQuery = a.image.urls.thumbnail.split('?')[1];

    const variantSwap = await server.client.fetchMedia(`/api/v1/images/${a.image.id}/original?${thumbQuery}`);
    const imageSwap = await server.client.fetchMedia(`/api/v1/images/${b.id}/thumbnail?${thumbQuery}`);

    expect(variantSwap.status).toBe(403);
    expect(imageSwap.status).toBe(403);
  });

  it.skipIf(EMBEDDED_ONLY)('media › after the link lifetime › returns 403 link_expired', async () => {
    const clock = manualClock(Date.now());
    const timed = await startApiServer({ env: { PIXA_MEDIA_URL_TTL_MINUTES: '10' }, now: clock.now });
    try {
      const user = await signedUpUser(timed.client);
      const res = await timed.client.upload(user.token, [{ name: 'a.jpg', data: await makePhoto() }]);
      const url = res.body.images[0]!.urls.thumbnail;
      expect((await timed.client.fetchMedia(url)).status).toBe(200);

      clock.advance(11 * 60 * 1000);
      const expired = await timed.client.fetchMedia(url);

      expect(expired.status).toBe(403);
      expect(expired.body.error.code).toBe('link_expired');
      const fresh = await timed.client.getImage(user.token, res.body.images[0]!.id);
      expect((await timed.client.fetchMedia(fresh.body.urls.thumbnail)).status).toBe(200);
    } finally {
      await timed.close();
    }
  });

  it('media › the signed URL of an image deleted for good › returns 404', async () => {
    const { image, token } = await userWithPhoto();
    await server.client.deleteForGood(token, image.id);

    const res = await server.client.fetchMedia(image.urls.original);

    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });
});

describe('media › HEAD and missing objects', () => {
  it.each(['original', 'preview', 'thumbnail'] as const)(
    'media › HEAD on the %s › answers its headers with no body, and charges and logs nothing',
    async (variant) => {
      const { image, userId } = await userWithPhoto();
      const before = await transferCounters(server, userId);

      const res = await fetch(new URL(image.urls[variant], server.url), { method: 'HEAD' });

      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(variant === 'original' ? 'image/jpeg' : 'image/webp');
      expect(res.headers.get('etag')).toMatch(/^"[^"]+"$/);
      if (variant === 'original') expect(Number(res.headers.get('content-length'))).toBe(image.size);
      expect((await res.arrayBuffer()).byteLength).toBe(0);
      expect(await transferCounters(server, userId)).toEqual(before);
      expect((await storageEvents(server, userId)).filter((e) => e.operation === 'download')).toEqual([]);
    },
  );

  it('media › an object gone from the store under its row (a delete racing a download) › returns 404, not 500', async () => {
    const { image, userId } = await userWithPhoto();
    await server.store.delete(`${userId}/${image.id}/preview.webp`);

    const res = await server.client.fetchMedia(image.urls.preview);

    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });
});

describe('media › caching', () => {
  it.each(['original', 'preview', 'thumbnail'] as const)(
    'media › %s with a matching If-None-Match › returns 304 without a body or a transfer charge',
    async (variant) => {
      const { image, userId } = await userWithPhoto();
      const first = await server.client.fetchMedia(image.urls[variant]);
      const before = await transferCounters(server, userId);

      const res = await server.client.fetchMedia(image.urls[variant], { 'if-none-match': first.headers.get('etag')! });

      expect(res.status).toBe(304);
      expect(res.body.length).toBe(0);
      expect(res.headers.get('etag')).toBe(first.headers.get('etag'));
      expect(await transferCounters(server, userId)).toEqual(before);
    },
  );

  it('media › a stale If-None-Match › returns 200 with the body', async () => {
    const { image } = await userWithPhoto();

    const res = await server.client.fetchMedia(image.urls.original, { 'if-none-match': '"something-else"' });

    expect(res.status).toBe(200);
    expect(res.body.length).toBe(image.size);
  });
});

describe('media › ranges', () => {
  it.each([
    ['bytes=0-99', 0, 99],
    ['bytes=100-', 100, -1],
    ['bytes=-50', -50, -1],
    ['bytes=10-999999999', 10, -1],
  ])('media › original with Range %s › returns 206 with that slice and Content-Range', async (range, from, to) => {
    const { image, data } = await userWithPhoto();
    const start = from < 0 ? data.length + from : from;
    const end = to < 0 ? data.length - 1 : to;

    const res = await server.client.fetchMedia(image.urls.original, { range });

    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${data.length}`);
    expect(Number(res.headers.get('content-length'))).toBe(end - start + 1);
    expect(res.body.equals(data.subarray(start, end + 1))).toBe(true);
    expect(res.headers.get('accept-ranges')).toBe('bytes');
  });

  it.each(['bytes=50-10', 'bytes=0-10,20-30', 'items=0-10'])(
    'media › original with a Range to ignore (%s) › returns 200 with the whole file',
    async (range) => {
      const { image, data } = await userWithPhoto();

      const res = await server.client.fetchMedia(image.urls.original, { range });

      expect(res.status).toBe(200);
      expect(res.body.equals(data)).toBe(true);
    },
  );

  it('media › a range is charged for its bytes only', async () => {
    const { image, userId } = await userWithPhoto();

    await server.client.fetchMedia(image.urls.original, { range: 'bytes=0-99' });

    expect((await transferCounters(server, userId)).bytesOut).toBe(100);
    // Thumbnail views are logged in batches, about a second late.
    let downloads: Awaited<ReturnType<typeof storageEvents>> = [];
    for (let attempt = 0; attempt < 50 && downloads.length < 3; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100));
      downloads = (await storageEvents(server, userId)).filter((e) => e.operation === 'download');
    }
    expect(downloads).toMatchObject([{ bytes: 100, status: 206 }]);
  });

  it('media › 30 one-byte ranges of one original › charged 30 bytes, logged as one growing event row', async () => {
    const { image, userId, data } = await userWithPhoto();

    for (let i = 0; i < 30; i++) {
      const res = await server.client.fetchMedia(image.urls.original, { range: `bytes=${i}-${i}` });
      expect(res.status).toBe(206);
      expect(res.body).toEqual(data.subarray(i, i + 1));
    }

    expect((await transferCounters(server, userId)).bytesOut).toBe(30);
    const ranged = (await storageEvents(server, userId)).filter((e) => e.status === 206);
    expect(ranged).toMatchObject([{ operation: 'download', bytes: 30 }]);
    expect(await transferFromLog(server, userId)).toMatchObject({ bytesOut: 30 });
  });

  it.each(['bytes=999999999-', 'bytes=-0'])(
    'media › original with unsatisfiable Range %s › returns 416 with bytes */size and charges nothing',
    async (range) => {
      const { image, userId } = await userWithPhoto();

      const res = await server.client.fetchMedia(image.urls.original, { range });

      expect(res.status).toBe(416);
      expect(res.headers.get('content-range')).toBe(`bytes */${image.size}`);
      expect(res.body.error.code).toBe('range_not_satisfiable');
      expect(await transferCounters(server, userId)).toMatchObject({ bytesOut: 0 });
      expect((await storageEvents(server, userId)).filter((e) => e.operation === 'download')).toEqual([]);
    },
  );
});

describe('media › downloads', () => {
  it('media › ?download=1 with a Unicode name › attachment with an ASCII fallback and the exact RFC 6266 name', async () => {
    const name = 'Été à Zürich "best" 東京.jpg';
    const { image } = await userWithPhoto(name);

    const res = await server.client.fetchMedia(image.urls.download);

    expect(res.status).toBe(200);
    const disposition = res.headers.get('content-disposition')!;
    expect(disposition).toMatch(/^attachment; filename="[\x20-\x7e]+"; filename\*=UTF-8''[A-Za-z0-9%!#$&+.^_`|~-]+$/);
    expect(/filename="((?:[^"\\]|\\.)*)"/.exec(disposition)?.[1]).not.toContain('"');
    const encoded = /filename\*=UTF-8''(.+)$/.exec(disposition)![1]!;
    expect(decodeURIComponent(encoded)).toBe(name);
  });

  it('media › without ?download › inline', async () => {
    const { image } = await userWithPhoto('plain.jpg');

    const res = await server.client.fetchMedia(image.urls.original);

    expect(res.headers.get('content-disposition')).toMatch(/^inline; filename="plain.jpg"/);
  });
});

describe('media › storage events', () => {
  it('media › every object served › is in the event log; transfer counts originals and previews, not thumbnails', async () => {
    const { image, userId } = await userWithPhoto();
    const sizes: Record<string, number> = {};
    for (const variant of ['original', 'preview', 'thumbnail'] as const) {
      sizes[variant] = (await server.client.fetchMedia(image.urls[variant])).body.length;
    }

    // Thumbnail views are logged in batches, about a second late.
    let downloads: Awaited<ReturnType<typeof storageEvents>> = [];
    for (let attempt = 0; attempt < 50 && downloads.length < 3; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100));
      downloads = (await storageEvents(server, userId)).filter((e) => e.operation === 'download');
    }

    expect(downloads.map((e) => [e.object_key, e.bytes]).sort()).toEqual(
      [
        [`${userId}/${image.id}/original`, sizes.original],
        [`${userId}/${image.id}/preview.webp`, sizes.preview],
        [`${userId}/${image.id}/thumb.webp`, sizes.thumbnail],
      ].sort(),
    );
    const counters = await transferCounters(server, userId);
    expect(counters.bytesOut).toBe(sizes.original! + sizes.preview!);
    expect(counters).toEqual(await transferFromLog(server, userId));
  });
});
