import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { signedUpUser, type ErrorBody, type ImageBody } from '../helpers/api.js';
import { makeMp4WithLocation, makeVp9Webm } from '../helpers/videos.js';
import { startApiServer, type ApiServer } from './support/server.js';
import { setUserQuotas, transferCounters, transferFromLog } from './support/state.js';

const run = promisify(execFile);

interface SharedItemBody {
  id: string;
  kind: 'photo' | 'video';
  durationMs: number | null;
  urls: { thumbnail: string; preview: string; video?: string; original?: string; download?: string };
  downloadServes: 'original' | 'preview';
}

let server: ApiServer;
let located: Buffer;
let locatedHevc: Buffer;
let webm: Buffer;
let dir: string;

beforeAll(async () => {
  server = await startApiServer({ env: { PIXA_JOB_CONCURRENCY: '1' } });
  dir = await mkdtemp(path.join(tmpdir(), 'pixa-shared-video-'));
  [located, locatedHevc, webm] = await Promise.all([
    makeMp4WithLocation({ apple: true }),
    makeMp4WithLocation({ hevc: true }),
    makeVp9Webm(),
  ]);
}, 120_000);
afterAll(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The GPS and location tags exiftool finds in `bytes` (empty when none), and ffprobe's duration. */
async function inspect(bytes: Buffer, name: string): Promise<{ location: string; duration: number }> {
  const file = path.join(dir, `${Date.now()}-${Math.random().toString(36).slice(2)}-${name}`);
  await writeFile(file, bytes);
  const exif = await run('exiftool', ['-a', '-G1', '-s', file]);
  const location = exif.stdout
    .split('\n')
    .filter((line) => /^\[\w+\]\s+\S*(gps|location)/i.test(line))
    .join('\n');
  const probe = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file]);
  return { location, duration: Number(probe.stdout.trim()) };
}

/** An owner with one video uploaded, in an album shared with `options`; the visitor's item for it. */
async function sharedVideo(data: Buffer, name: string, options: Record<string, unknown> = {}) {
  const owner = await signedUpUser(server.client, 'owner');
  const uploaded = await server.client.upload(owner.token, [{ name, data, type: 'video/mp4' }]);
  expect(uploaded.status).toBe(201);
  const image = uploaded.body.images[0]!;
  const album = await server.client.request<{ id: string }>('POST', '/api/v1/albums', {
    token: owner.token,
    json: { title: 'Holidays' },
  });
  await server.client.request('PUT', `/api/v1/albums/${album.body.id}/images`, {
    token: owner.token,
    json: { ids: [image.id] },
  });
  const share = await server.client.request<{ id: string; url: string } & ErrorBody>('POST', '/api/v1/shares', {
    token: owner.token,
    json: { albumId: album.body.id, ...options },
  });
  expect(share.status).toBe(201);
  const key = share.body.url.slice('/s/'.length);
  const item = await visitedItem(key);
  return { owner, image, item, key, shareId: share.body.id };
}

/** The first item of the link's page, as a visitor sees it now. */
async function visitedItem(key: string): Promise<SharedItemBody> {
  const page = await server.client.request<{ items: SharedItemBody[] }>('GET', `/api/v1/shared/${key}`);
  expect(page.status).toBe(200);
  return page.body.items[0]!;
}

/** Polls the owner's image until its playback copy is no longer `preparing`. */
async function settled(token: string, id: string): Promise<ImageBody> {
  const until = Date.now() + 60_000;
  for (;;) {
    const res = await server.client.getImage(token, id);
    if (res.body.playback !== 'preparing') return res.body;
    if (Date.now() > until) throw new Error(`playback of ${id} still preparing`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('shared videos', () => {
  it('page › a shared video is listed with its kind, duration and a video URL', async () => {
    const { item, image } = await sharedVideo(located, 'located.mov');

    expect(item.kind).toBe('video');
    expect(item.durationMs).toBe(image.durationMs);
    expect(item.durationMs).toBeGreaterThan(1500);
    expect(item.urls.video).toMatch(/\/playback\?exp=\d+&sig=/);
    expect(item.downloadServes).toBe('original');
  });

  it('video URL › Range bytes=0-99 › 206 with Content-Range over the original’s length', async () => {
    const { item } = await sharedVideo(located, 'located.mov');

    const res = await server.client.fetchMedia(item.urls.video!, { range: 'bytes=0-99' });

    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes 0-99/${located.length}`);
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('content-length')).toBe('100');
    expect(res.headers.get('x-pixa-served-as')).toBe('original');
    expect(res.body.length).toBe(100);
    expect(res.body.equals(located.subarray(0, 100))).toBe(true);
  });

  it('video URL › whole and in ranges › the original’s length, no location, still plays for its whole duration', async () => {
    const { item } = await sharedVideo(located, 'located.mov');
    expect((await inspect(located, 'before.mov')).location).toMatch(/48 deg 51/);

    const whole = await server.client.fetchMedia(item.urls.video!);
    expect(whole.status).toBe(200);
    expect(whole.body.length).toBe(located.length);
    const seen = await inspect(whole.body, 'whole.mov');
    expect(seen.location).toBe('');
    expect(seen.duration).toBeGreaterThan(1.5);

    // A player's ranges, put together, are the same bytes as the whole answer.
    const parts: Buffer[] = [];
    for (let start = 0; start < located.length; start += 1000) {
      const end = Math.min(start + 999, located.length - 1);
      const part = await server.client.fetchMedia(item.urls.video!, { range: `bytes=${start}-${end}` });
      expect(part.status).toBe(206);
      parts.push(part.body);
    }
    expect(Buffer.concat(parts).equals(whole.body)).toBe(true);

    // The ETag is the shared one, and answers 304.
    const etag = whole.headers.get('etag')!;
    expect(etag).not.toBe('');
    expect((await server.client.fetchMedia(item.urls.video!, { 'if-none-match': etag })).status).toBe(304);
  });

  it('video URL › a range outside the file › 416 with its size', async () => {
    const { item } = await sharedVideo(located, 'located.mov');

    const res = await server.client.fetchMedia(item.urls.video!, { range: `bytes=${located.length}-` });

    expect(res.status).toBe(416);
    expect(res.headers.get('content-range')).toBe(`bytes */${located.length}`);
    expect(res.body.error.code).toBe('range_not_satisfiable');
  });

  it('downloads off › the video still plays, the original is 403', async () => {
    const { owner, item: before, key, shareId } = await sharedVideo(located, 'located.mov');
    const changed = await server.client.request('PATCH', `/api/v1/shares/${shareId}`, {
      token: owner.token,
      json: { allowDownload: false },
    });
    expect(changed.status).toBe(200);
    const item = await visitedItem(key);
    expect(item.urls.original).toBeUndefined();
    expect(item.urls.download).toBeUndefined();

    const played = await server.client.fetchMedia(item.urls.video!, { range: 'bytes=0-' });
    expect(played.status).toBe(206);
    expect(played.body.length).toBe(located.length);

    const refused = await server.client.fetchMedia(before.urls.original!);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('download_not_allowed');
  });

  it('downloads on › the original of a video is the same location-free file', async () => {
    const { item } = await sharedVideo(located, 'located.mov');

    const original = await server.client.fetchMedia(item.urls.download!);
    const played = await server.client.fetchMedia(item.urls.video!);

    expect(original.status).toBe(200);
    expect(original.headers.get('x-pixa-served-as')).toBe('original');
    expect(original.headers.get('content-disposition')).toMatch(/^attachment; filename="located\.mov"/);
    expect(original.body.equals(played.body)).toBe(true);
  });

  it('the link’s ZIP › holds the video original without its location, as the video URL serves it', async () => {
    const { key } = await sharedVideo(located, 'located.mov');
    const page = await server.client.request<{ archiveUrl: string }>('GET', `/api/v1/shared/${key}`);
    const item = await visitedItem(key);
    const played = await server.client.fetchMedia(item.urls.video!);

    const zip = await server.client.fetchMedia(page.body.archiveUrl);

    expect(zip.status).toBe(200);
    // Entries are stored, not deflated: the file's bytes are in the ZIP as they are.
    expect(zip.body.indexOf(played.body)).toBeGreaterThan(0);
    expect(zip.body.indexOf(located)).toBe(-1);
  });

  it('HEVC with its playback copy ready › the copy is served, without location', async () => {
    const { owner, image, item } = await sharedVideo(locatedHevc, 'located-hevc.mp4');
    const ready = await settled(owner.token, image.id);
    expect(ready.playback).toBe('ready');
    const copy = await server.client.fetchMedia(ready.urls.playback!);

    const served = await server.client.fetchMedia(item.urls.video!);
    expect(served.status).toBe(200);
    expect(served.headers.get('x-pixa-served-as')).toBe('playback');
    expect(served.body.equals(copy.body)).toBe(true);
    expect((await inspect(served.body, 'copy.mp4')).location).toBe('');

    const ranged = await server.client.fetchMedia(item.urls.video!, { range: 'bytes=0-99' });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 0-99/${copy.body.length}`);
  });

  it('WebM whose copy is ready › plays from the copy; its original is still the preview', async () => {
    const { owner, image, key } = await sharedVideo(webm, 'clip.webm');
    expect((await settled(owner.token, image.id)).playback).toBe('ready');
    const item = await visitedItem(key);
    expect(item.downloadServes).toBe('preview');

    const served = await server.client.fetchMedia(item.urls.video!);
    expect(served.status).toBe(200);
    expect(served.headers.get('x-pixa-served-as')).toBe('playback');
    expect(served.headers.get('content-type')).toBe('video/mp4');
    const original = await server.client.fetchMedia(item.urls.original!);
    expect(original.headers.get('x-pixa-served-as')).toBe('preview');
  });

  it('transfer › the bytes played through the link are charged to the owner, ranges included', async () => {
    const { owner, item } = await sharedVideo(located, 'located.mov');
    const before = (await server.client.usage(owner.token)).body.transfer.outBytes;

    const first = await server.client.fetchMedia(item.urls.video!, { range: 'bytes=0-99' });
    const rest = await server.client.fetchMedia(item.urls.video!, { range: 'bytes=100-' });

    const after = (await server.client.usage(owner.token)).body.transfer.outBytes;
    expect(first.body.length + rest.body.length).toBe(located.length);
    expect(after - before).toBe(located.length);
    expect(await transferCounters(server, owner.userId)).toEqual(await transferFromLog(server, owner.userId));
  });

  it('transfer › the owner’s quota used up › the video answers owner_quota_resting (429)', async () => {
    const { owner, item } = await sharedVideo(located, 'located.mov');
    await setUserQuotas(server, owner.userId, { daily_transfer_bytes: 1 });

    const refused = await server.client.fetchMedia(item.urls.video!, { range: 'bytes=0-99' });

    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('owner_quota_resting');
  });
});
