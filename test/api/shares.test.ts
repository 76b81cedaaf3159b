import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import exifr from 'exifr';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { signedUpUser, type ErrorBody, type ImageBody } from '../helpers/api.js';
import { exifOf as heicExifOf, gridHeic, heifEncMissing } from '../helpers/heic.js';
import { exifOf, makePhoto } from '../helpers/photos.js';
import { EMBEDDED_ONLY, IN_POD, manualClock, startApiServer, type ApiServer } from './support/server.js';
import { setUserQuotas, transferCounters, transferFromLog } from './support/state.js';

const HOUR = 3600 * 1000;
let server: ApiServer;
const clock = manualClock(Date.now());

beforeAll(async () => {
  // A pod runs on the real clock; the case that moves the clock is embedded-only.
  server = await startApiServer({ now: IN_POD ? undefined : clock.now });
});
afterAll(() => server?.close());

interface ShareBody {
  id: string;
  url: string;
  imageCount: number;
  viewCount: number;
  lastAccessAt: string | null;
  hasPassword: boolean;
  expiresAt: string | null;
}
interface SharedItemBody {
  id: string;
  filename?: string;
  urls: { thumbnail: string; preview: string; original?: string; download?: string };
  downloadServes: 'original' | 'preview';
}
interface SharedPageBody {
  title: string;
  owner?: string;
  imageCount: number;
  allowDownload: boolean;
  archiveUrl?: string;
  items: SharedItemBody[];
  nextCursor: string | null;
}

/** The tags exiftool reads in `bytes` (exifr 7 cannot read every HEIC's Exif). */
async function exiftool(bytes: Buffer): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pixa-shares-'));
  try {
    await writeFile(path.join(dir, 'file'), bytes);
    return (await promisify(execFile)('exiftool', ['-a', '-G1', '-s', path.join(dir, 'file')])).stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

let seed = 900;
const photo = (options: Parameters<typeof makePhoto>[0] = {}) =>
  makePhoto({ seed: seed++, width: 600, height: 400, ...options });

async function ownerWithPhotos(count: number, options: Parameters<typeof makePhoto>[0] = {}) {
  const owner = await signedUpUser(server.client, 'owner');
  const files = await Promise.all(Array.from({ length: count }, () => photo(options)));
  const uploaded = await server.client.upload(
    owner.token,
    files.map((data, i) => ({ name: `p${i}.${options.format ?? 'jpg'}`, data })),
  );
  expect(uploaded.status).toBe(201);
  return { ...owner, images: uploaded.body.images as ImageBody[], files };
}

async function newAlbum(token: string, title: string, images: ImageBody[]): Promise<string> {
  const album = await server.client.request<{ id: string }>('POST', '/api/v1/albums', { token, json: { title } });
  expect(album.status).toBe(201);
  const added = await server.client.request('PUT', `/api/v1/albums/${album.body.id}/images`, {
    token,
    json: { ids: images.map((image) => image.id) },
  });
  expect(added.status).toBeLessThan(300);
  return album.body.id;
}

const createShare = (token: string, body: Record<string, unknown>) =>
  server.client.request<ShareBody & ErrorBody>('POST', '/api/v1/shares', { token, json: body });
const listShares = (token: string) => server.client.request<{ items: ShareBody[] }>('GET', '/api/v1/shares', { token });
const keyOf = (share: ShareBody) => share.url.slice('/s/'.length);
const visit = (key: string, token?: string, query = '') =>
  server.client.request<SharedPageBody & ErrorBody>('GET', `/api/v1/shared/${key}${query}`, {
    headers: token ? { 'x-pixa-share-token': token } : {},
  });
const unlock = (key: string, password: string) =>
  server.client.request<{ token: string } & ErrorBody>('POST', `/api/v1/shared/${key}/unlock`, { json: { password } });

/** A key nobody was given: what any unknown link answers. */
const UNKNOWN_KEY = 'AAAAAAAAAAAAAAAAAAAAAAAA';

describe('share links', () => {
  it('create › chosen photos › 201 with a /s/ URL; the visitor sees exactly them; the owner sees the visit', async () => {
    const owner = await ownerWithPhotos(3);
    const [a, b, notShared] = owner.images;

    const created = await createShare(owner.token, { imageIds: [a!.id, b!.id, a!.id], title: 'Summer' });

    expect(created.status).toBe(201);
    expect(created.body.url).toMatch(/^\/s\/[A-Za-z0-9_-]{22,}$/);
    expect(created.body).toMatchObject({ imageCount: 2, viewCount: 0, hasPassword: false, expiresAt: null });
    const page = await visit(keyOf(created.body));
    expect(page.status).toBe(200);
    expect(page.body).toMatchObject({ title: 'Summer', imageCount: 2, allowDownload: true, nextCursor: null });
    expect(page.body.owner).toBeUndefined();
    expect(page.body.items.map((item) => item.id).sort()).toEqual([a!.id, b!.id].sort());
    expect(page.body.items.map((item) => item.id)).not.toContain(notShared!.id);
    // Metadata is the owner's choice, off by default.
    expect(page.body.items[0]!.filename).toBeUndefined();
    const thumb = await server.client.fetchMedia(page.body.items[0]!.urls.thumbnail);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/webp');

    const listed = await listShares(owner.token);
    expect(listed.body.items).toHaveLength(1);
    expect(listed.body.items[0]).toMatchObject({ id: created.body.id, viewCount: 1, imageCount: 2 });
    expect(listed.body.items[0]!.lastAccessAt).not.toBeNull();
    // The key is shown once: the list has no URL.
    expect(listed.body.items[0]).not.toHaveProperty('url');
  });

  it('create › another user’s photo or album › 404 and no link is created', async () => {
    const owner = await ownerWithPhotos(1);
    const other = await ownerWithPhotos(1);
    const othersAlbum = await newAlbum(other.token, 'Not yours', other.images);

    const mixed = await createShare(owner.token, { imageIds: [owner.images[0]!.id, other.images[0]!.id] });
    const album = await createShare(owner.token, { albumId: othersAlbum });
    const unknown = await createShare(owner.token, { albumId: '01936f0c-0000-7000-8000-000000000000' });

    expect(mixed.status).toBe(404);
    expect(mixed.body.error.code).toBe('not_found');
    expect(album.status).toBe(404);
    expect(unknown.status).toBe(404);
    expect((await listShares(owner.token)).body.items).toEqual([]);
  });

  it('album › the visitor sees the album as it is now; a photo moved to the trash drops out; a deleted album is 404', async () => {
    const owner = await ownerWithPhotos(3);
    const [a, b, later] = owner.images;
    const albumId = await newAlbum(owner.token, 'Holidays', [a!, b!]);
    const share = (await createShare(owner.token, { albumId, showOwner: true })).body;
    expect(share.imageCount).toBe(2);
    const first = (await visit(keyOf(share))).body;
    expect(first).toMatchObject({ title: 'Holidays', owner: owner.username, imageCount: 2 });
    const bUrl = first.items.find((item) => item.id === b!.id)!.urls.preview;

    await server.client.request('PUT', `/api/v1/albums/${albumId}/images`, {
      token: owner.token,
      json: { ids: [later!.id] },
    });
    expect((await server.client.deleteImage(owner.token, b!.id)).status).toBe(204);
    const now = (await visit(keyOf(share))).body;

    expect(now.items.map((item) => item.id).sort()).toEqual([a!.id, later!.id].sort());
    expect(now.imageCount).toBe(2);
    expect((await server.client.fetchMedia(bUrl)).status).toBe(404);

    await server.client.request('DELETE', `/api/v1/albums/${albumId}`, { token: owner.token });
    expect((await visit(keyOf(share))).status).toBe(404);
  });

  it('chosen photos › one moved to the trash › drops out of the link', async () => {
    const owner = await ownerWithPhotos(2);
    const [a, b] = owner.images;
    const share = (await createShare(owner.token, { imageIds: [a!.id, b!.id] })).body;

    await server.client.deleteImage(owner.token, a!.id);
    const page = (await visit(keyOf(share))).body;

    expect(page.items.map((item) => item.id)).toEqual([b!.id]);
    expect(page.imageCount).toBe(1);
    // A photo in the trash cannot be shared either.
    expect((await createShare(owner.token, { imageIds: [a!.id] })).status).toBe(404);
  });

  it('create › bad input › 400 for neither album nor photos, and for a past expiry', async () => {
    const owner = await ownerWithPhotos(1);

    const neither = await createShare(owner.token, {});
    const past = await createShare(owner.token, {
      imageIds: [owner.images[0]!.id],
      expiresAt: new Date(Date.now() - HOUR).toISOString(),
    });

    expect(neither.status).toBe(400);
    expect(past.status).toBe(400);
    expect(past.body.error.message).toMatch(/future/);
    expect((await listShares(owner.token)).body.items).toEqual([]);
  });

  it('revoke › the link and its media URLs answer the same 404 as a link that never existed', async () => {
    const owner = await ownerWithPhotos(1);
    const share = (await createShare(owner.token, { imageIds: [owner.images[0]!.id] })).body;
    const page = (await visit(keyOf(share))).body;

    const revoked = await server.client.request('DELETE', `/api/v1/shares/${share.id}`, { token: owner.token });

    expect(revoked.status).toBe(204);
    const after = await visit(keyOf(share));
    const unknown = await visit(UNKNOWN_KEY);
    expect(after.status).toBe(404);
    expect(after.body).toEqual(unknown.body);
    expect((await server.client.fetchMedia(page.items[0]!.urls.preview)).status).toBe(404);
    expect((await listShares(owner.token)).body.items).toEqual([]);
    // Revoking again, or another account revoking it: 404.
    expect((await server.client.request('DELETE', `/api/v1/shares/${share.id}`, { token: owner.token })).status).toBe(
      404,
    );
  });

  it('another account › cannot list, change or revoke the owner’s link', async () => {
    const owner = await ownerWithPhotos(1);
    const stranger = await signedUpUser(server.client, 'stranger');
    const share = (await createShare(owner.token, { imageIds: [owner.images[0]!.id] })).body;

    const patch = await server.client.request('PATCH', `/api/v1/shares/${share.id}`, {
      token: stranger.token,
      json: { allowDownload: false },
    });
    const revoke = await server.client.request('DELETE', `/api/v1/shares/${share.id}`, { token: stranger.token });

    expect(patch.status).toBe(404);
    expect(revoke.status).toBe(404);
    expect((await listShares(stranger.token)).body.items).toEqual([]);
    expect((await visit(keyOf(share))).status).toBe(200);
  });

  it.skipIf(EMBEDDED_ONLY)('expiry › once past › the same 404 as an unknown link', async () => {
    const owner = await ownerWithPhotos(1);
    const share = (
      await createShare(owner.token, {
        imageIds: [owner.images[0]!.id],
        expiresAt: new Date(clock.now() + HOUR).toISOString(),
      })
    ).body;
    expect((await visit(keyOf(share))).status).toBe(200);

    clock.advance(2 * HOUR);
    const expired = await visit(keyOf(share));

    expect(expired.status).toBe(404);
    expect(expired.body).toEqual((await visit(UNKNOWN_KEY)).body);
    expect((await listShares(owner.token)).body.items[0]).toMatchObject({ expired: true });
  });

  it('password › asked first; a wrong one is refused and throttled; the token opens that link only', async () => {
    const owner = await ownerWithPhotos(1);
    const id = owner.images[0]!.id;
    const first = (await createShare(owner.token, { imageIds: [id], password: 'open sesame' })).body;
    const second = (await createShare(owner.token, { imageIds: [id], password: 'open sesame' })).body;

    const locked = await visit(keyOf(first));
    expect(locked.status).toBe(401);
    expect(locked.body.error.code).toBe('password_required');

    const token = (await unlock(keyOf(first), 'open sesame')).body.token;
    expect((await visit(keyOf(first), token)).status).toBe(200);
    const elsewhere = await visit(keyOf(second), token);
    expect(elsewhere.status).toBe(401);
    expect(elsewhere.body.error.code).toBe('password_required');

    const answers: number[] = [];
    for (let i = 0; i < 11; i++) answers.push((await unlock(keyOf(second), `guess ${i}`)).status);
    expect(answers.slice(0, 10)).toEqual(Array(10).fill(401));
    const throttled = await unlock(keyOf(second), 'open sesame');
    expect(answers[10]).toBe(429);
    expect(throttled.status).toBe(429);
    expect(throttled.body.error.code).toBe('too_many_attempts');
    expect(throttled.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('password › changed by the owner › the old token no longer opens the link', async () => {
    const owner = await ownerWithPhotos(1);
    const share = (await createShare(owner.token, { imageIds: [owner.images[0]!.id], password: 'first pass' })).body;
    const token = (await unlock(keyOf(share), 'first pass')).body.token;

    const changed = await server.client.request<ShareBody>('PATCH', `/api/v1/shares/${share.id}`, {
      token: owner.token,
      json: { password: 'second pass' },
    });
    expect(changed.status).toBe(200);
    expect((await visit(keyOf(share), token)).status).toBe(401);

    const cleared = await server.client.request<ShareBody>('PATCH', `/api/v1/shares/${share.id}`, {
      token: owner.token,
      json: { password: null },
    });
    expect(cleared.body.hasPassword).toBe(false);
    expect((await visit(keyOf(share))).status).toBe(200);
  });

  it('visitor › cannot reach an image the link does not share, nor use a URL on another link', async () => {
    const owner = await ownerWithPhotos(2);
    const [shared, notShared] = owner.images;
    const share = (await createShare(owner.token, { imageIds: [shared!.id] })).body;
    const other = (await createShare(owner.token, { imageIds: [notShared!.id] })).body;
    const url = (await visit(keyOf(share))).body.items[0]!.urls.preview;

    const swapped = await server.client.fetchMedia(url.replace(shared!.id, notShared!.id));
    const onOtherLink = await server.client.fetchMedia(url.replace(keyOf(share), keyOf(other)));
    const unsigned = await server.client.fetchMedia(`/api/v1/shared/${keyOf(share)}/images/${notShared!.id}/preview`);
    const gallery = await server.client.fetchMedia(`/api/v1/images/${notShared!.id}/preview`);

    expect(swapped.status).toBe(403);
    expect(onOtherLink.status).toBe(403);
    expect(unsigned.status).toBe(403);
    expect(gallery.status).toBe(401);
  });

  it('downloads › turned off › no original or ZIP URL, and an original URL from before is refused', async () => {
    const owner = await ownerWithPhotos(1);
    const share = (await createShare(owner.token, { imageIds: [owner.images[0]!.id] })).body;
    const before = (await visit(keyOf(share))).body;

    await server.client.request('PATCH', `/api/v1/shares/${share.id}`, {
      token: owner.token,
      json: { allowDownload: false },
    });
    const page = (await visit(keyOf(share))).body;
    const original = await server.client.fetchMedia(before.items[0]!.urls.original!);
    const zip = await server.client.fetchMedia(before.archiveUrl!);

    expect(page.allowDownload).toBe(false);
    expect(page.archiveUrl).toBeUndefined();
    expect(page.items[0]!.urls.original).toBeUndefined();
    expect(original.status).toBe(403);
    expect(original.body.error.code).toBe('download_not_allowed');
    expect(zip.status).toBe(403);
    expect((await server.client.fetchMedia(page.items[0]!.urls.preview)).status).toBe(200);
  });

  it('location › a shared original has no GPS, same pixels; the owner’s download stays byte for byte', async () => {
    const owner = await ownerWithPhotos(1, { gps: true, takenAt: '2024:07:14 09:31:02' });
    const share = (await createShare(owner.token, { imageIds: [owner.images[0]!.id] })).body;
    const item = (await visit(keyOf(share))).body.items[0]!;

    const shared = await server.client.fetchMedia(item.urls.download!);
    const own = await server.client.fetchMedia(owner.images[0]!.urls.download);

    expect(shared.status).toBe(200);
    expect(shared.headers.get('content-disposition')).toMatch(/^attachment/);
    expect(shared.headers.get('x-pixa-served-as')).toBe('original');
    expect(item.downloadServes).toBe('original');
    expect(own.body.equals(owner.files[0]!)).toBe(true);
    expect((await exifr.gps(own.body))?.latitude).toBeCloseTo(48.858, 2);
    expect(await exifr.gps(shared.body).catch(() => undefined)).toBeUndefined();
    expect((await exifr.parse(shared.body))?.DateTimeOriginal).toBeInstanceOf(Date);
    expect(shared.body.length).toBe(own.body.length);
    const [sharedPixels, ownPixels] = await Promise.all([shared.body, own.body].map((b) => sharp(b).raw().toBuffer()));
    expect(sharedPixels!.equals(ownPixels!)).toBe(true);
  });

  it('location › PNG and WebP originals lose their GPS too; a GIF is served as its preview, and says so', async () => {
    const png = await ownerWithPhotos(1, { gps: true, format: 'png' });
    const webp = await ownerWithPhotos(1, { gps: true, format: 'webp' });
    const gif = await ownerWithPhotos(1, { format: 'gif' });

    for (const owner of [png, webp]) {
      const share = (await createShare(owner.token, { imageIds: [owner.images[0]!.id] })).body;
      const item = (await visit(keyOf(share))).body.items[0]!;
      const shared = await server.client.fetchMedia(item.urls.original!);
      expect(shared.status).toBe(200);
      expect(await exifr.gps(exifOf(shared.body)).catch(() => undefined)).toBeUndefined();
    }
    const share = (await createShare(gif.token, { imageIds: [gif.images[0]!.id] })).body;
    const item = (await visit(keyOf(share))).body.items[0]!;
    const served = await server.client.fetchMedia(item.urls.original!);
    expect(item.downloadServes).toBe('preview');
    expect(served.headers.get('x-pixa-served-as')).toBe('preview');
    expect(served.headers.get('content-type')).toBe('image/webp');
  });

  it.skipIf(heifEncMissing)(
    'location › a HEIC original loses its GPS in place: same length, its date kept',
    async () => {
      const owner = await signedUpUser(server.client, 'owner');
      const photo = await makePhoto({
        seed: seed++,
        width: 600,
        height: 400,
        gps: true,
        takenAt: '2024:07:14 09:31:02',
      });
      const heic = await gridHeic(photo, 512, { exif: await heicExifOf(photo) });
      const uploaded = await server.client.upload(owner.token, [
        { name: 'iphone.heic', data: heic, type: 'image/heic' },
      ]);
      expect(uploaded.status).toBe(201);
      const share = (await createShare(owner.token, { imageIds: [uploaded.body.images[0]!.id] })).body;
      const item = (await visit(keyOf(share))).body.items[0]!;

      const shared = await server.client.fetchMedia(item.urls.original!);

      expect(item.downloadServes).toBe('original');
      expect(shared.headers.get('x-pixa-served-as')).toBe('original');
      expect(shared.headers.get('content-type')).toBe('image/heic');
      expect(shared.body.length).toBe(heic.length);
      expect(await exiftool(heic)).toMatch(/GPSLatitude/);
      const tags = await exiftool(shared.body);
      expect(tags).not.toMatch(/GPS/);
      expect(tags).toMatch(/DateTimeOriginal\s+: 2024:07:14 09:31:02/);
      // Rewritten in place, so served by range too: the same bytes as that part of the whole.
      const part = await server.client.fetchMedia(item.urls.original!, { range: 'bytes=100-' });
      expect(part.status).toBe(206);
      expect(part.headers.get('accept-ranges')).toBe('bytes');
      expect(part.body.equals(shared.body.subarray(100))).toBe(true);
    },
  );

  it('transfer › previews and originals seen through a link are charged to the owner, thumbnails are free', async () => {
    const owner = await ownerWithPhotos(1);
    const share = (await createShare(owner.token, { imageIds: [owner.images[0]!.id] })).body;
    const item = (await visit(keyOf(share))).body.items[0]!;
    const before = (await server.client.usage(owner.token)).body.transfer.outBytes;

    const thumb = await server.client.fetchMedia(item.urls.thumbnail);
    const preview = await server.client.fetchMedia(item.urls.preview);
    const original = await server.client.fetchMedia(item.urls.original!);

    const after = (await server.client.usage(owner.token)).body.transfer.outBytes;
    expect(thumb.status).toBe(200);
    expect(after - before).toBe(preview.body.length + original.body.length);
    expect(await transferCounters(server, owner.userId)).toEqual(await transferFromLog(server, owner.userId));
  });

  it('transfer › the owner’s quota used up › the page and its media answer owner_quota_resting (429)', async () => {
    const owner = await ownerWithPhotos(1);
    const uploaded = owner.files[0]!.length;
    // Room for the upload and a few kilobytes: one preview uses it up.
    await setUserQuotas(server, owner.userId, { daily_transfer_bytes: uploaded + 1024 });
    const share = (await createShare(owner.token, { imageIds: [owner.images[0]!.id] })).body;
    const item = (await visit(keyOf(share))).body.items[0]!;

    const refused = await server.client.fetchMedia(item.urls.original!);
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('owner_quota_resting');
    await setUserQuotas(server, owner.userId, { daily_transfer_bytes: uploaded });

    const page = await visit(keyOf(share));
    expect(page.status).toBe(429);
    expect(page.body.error.code).toBe('owner_quota_resting');
    expect(page.body.error.message).toMatch(/resting until tomorrow/);
    expect(page.headers.get('retry-after')).toMatch(/^\d+$/);
  });
});

describe('ZIP downloads', () => {
  it('owner › POST /api/v1/images/archive › the originals byte for byte, charged as transfer', async () => {
    const owner = await ownerWithPhotos(2, { gps: true });
    const before = (await server.client.usage(owner.token)).body.transfer.outBytes;

    const zip = await server.client.request<Buffer>('POST', '/api/v1/images/archive', {
      token: owner.token,
      json: { ids: owner.images.map((image) => image.id) },
    });

    expect(zip.status).toBe(200);
    expect(zip.headers.get('content-type')).toBe('application/zip');
    expect(Number(zip.headers.get('content-length'))).toBe(zip.body.length);
    const entries = unzip(zip.body);
    expect(entries.map((e) => e.name).sort()).toEqual(['p0.jpg', 'p1.jpg']);
    for (const [i, file] of owner.files.entries()) {
      expect(entries.find((e) => e.name === `p${i}.jpg`)!.data.equals(file)).toBe(true);
    }
    const after = (await server.client.usage(owner.token)).body.transfer.outBytes;
    expect(after - before).toBe(owner.files[0]!.length + owner.files[1]!.length);
    expect(await transferCounters(server, owner.userId)).toEqual(await transferFromLog(server, owner.userId));
  });

  it('owner › another account’s id, or more than today’s transfer › refused up front, nothing charged', async () => {
    const owner = await ownerWithPhotos(2);
    const other = await ownerWithPhotos(1);
    const ids = owner.images.map((image) => image.id);

    const foreign = await server.client.request<ErrorBody>('POST', '/api/v1/images/archive', {
      token: owner.token,
      json: { ids: [...ids, other.images[0]!.id] },
    });
    await setUserQuotas(server, owner.userId, {
      daily_transfer_bytes: owner.files[0]!.length + owner.files[1]!.length + owner.files[0]!.length,
    });
    const before = await transferCounters(server, owner.userId);
    const tooBig = await server.client.request<ErrorBody>('POST', '/api/v1/images/archive', {
      token: owner.token,
      json: { ids },
    });

    expect(foreign.status).toBe(404);
    expect(tooBig.status).toBe(429);
    expect(tooBig.body.error.code).toBe('transfer_quota_exceeded');
    expect(await transferCounters(server, owner.userId)).toEqual(before);
  });

  it('visitor › the link’s ZIP › every shared original, GPS removed, charged to the owner', async () => {
    const owner = await ownerWithPhotos(3, { gps: true });
    const [a, b] = owner.images;
    const share = (await createShare(owner.token, { imageIds: [a!.id, b!.id] })).body;
    const page = (await visit(keyOf(share))).body;
    const before = (await server.client.usage(owner.token)).body.transfer.outBytes;

    const zip = await server.client.fetchMedia(page.archiveUrl!);

    expect(zip.status).toBe(200);
    const entries = unzip(zip.body);
    expect(entries.map((e) => e.name).sort()).toEqual(['p0.jpg', 'p1.jpg']);
    for (const entry of entries) {
      expect(await exifr.gps(entry.data).catch(() => undefined)).toBeUndefined();
      expect(entry.data.length).toBe(owner.files[Number(entry.name[1])]!.length);
    }
    const after = (await server.client.usage(owner.token)).body.transfer.outBytes;
    expect(after - before).toBe(owner.files[0]!.length + owner.files[1]!.length);
  });
});

describe('OpenAPI', () => {
  it('OpenAPI › documents every share and ZIP route', async () => {
    const doc = (await server.client.request<{ paths: Record<string, object> }>('GET', '/api/openapi.json')).body;
    const routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(routes).toEqual(
      expect.arrayContaining([
        'POST /api/v1/shares',
        'GET /api/v1/shares',
        'PATCH /api/v1/shares/{id}',
        'DELETE /api/v1/shares/{id}',
        'POST /api/v1/images/archive',
        'GET /api/v1/shared/{key}',
        'POST /api/v1/shared/{key}/unlock',
        'GET /api/v1/shared/{key}/images/{imageId}/{variant}',
        'GET /api/v1/shared/{key}/archive',
      ]),
    );
  });
});

/** The stored entries of a ZIP, read from its central directory. */
function unzip(zip: Buffer): { name: string; data: Buffer }[] {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const entries: { name: string; data: Buffer }[] = [];
  for (let i = 0; i < count; i++) {
    expect(zip.readUInt32LE(at)).toBe(0x02014b50);
    expect(zip.readUInt16LE(at + 10)).toBe(0); // stored
    const size = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extra = zip.readUInt16LE(at + 30);
    const comment = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    entries.push({ name, data: zip.subarray(start, start + size) });
    at += 46 + nameLength + extra + comment;
  }
  return entries;
}
