import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createPlaybackJob } from '../../src/modules/images/playback-job.js';
import { PLAYBACK_JOB } from '../../src/modules/images/upload.service.js';
import { startJobWorker } from '../../src/modules/jobs/job-worker.js';
import { findJobsByPayload, takeJob } from '../../src/modules/jobs/job.repository.js';
import { signedUpUser, type ImageBody } from '../helpers/api.js';
import { sha256 } from '../helpers/photos.js';
import {
  fakeMp4,
  makeH264Mp4,
  makeHugeFrameMp4,
  makeRotatedHevcMov,
  makeVp9Webm,
  withForgedDuration,
} from '../helpers/videos.js';
import { manualClock, startApiServer, type ApiServer } from './support/server.js';
import { storedState, userRow } from './support/state.js';

let server: ApiServer;
let h264: Buffer;
let hevc: Buffer;
let webm: Buffer;

beforeAll(async () => {
  server = await startApiServer({ env: { PIXA_JOB_CONCURRENCY: '1' } });
  [h264, hevc, webm] = await Promise.all([makeH264Mp4(), makeRotatedHevcMov(), makeVp9Webm()]);
}, 120_000);
afterAll(() => server?.close());

async function uploadVideo(on: ApiServer, token: string, name: string, data: Buffer) {
  return on.client.upload(token, [{ name, data, type: 'video/mp4' }]);
}

/** Polls the image until its playback is no longer `preparing` (the background job ran). */
async function settled(on: ApiServer, token: string, id: string, timeoutMs = 60_000): Promise<ImageBody> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await on.client.getImage(token, id);
    if (res.body.playback !== 'preparing') return res.body;
    if (Date.now() > until) throw new Error(`playback of ${id} still preparing after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('video › accepted', () => {
  it('video › H.264 MP4 › 201 with kind, duration, size, taken date, a WebP poster, and plays as uploaded', async () => {
    const user = await signedUpUser(server.client);

    const res = await uploadVideo(server, user.token, 'clip.mp4', h264);

    expect(res.status).toBe(201);
    const image = res.body.images[0]!;
    expect(image).toMatchObject({
      kind: 'video',
      mediaType: 'video/mp4',
      width: 320,
      height: 240,
      takenAt: '2024-05-01T10:20:30.000Z',
      playback: 'original',
      size: h264.length,
    });
    expect(image.durationMs).toBeGreaterThanOrEqual(1900);
    expect(image.durationMs).toBeLessThanOrEqual(2100);
    expect(image.videoType).toMatch(/^video\/mp4; codecs="avc1\.[0-9A-F]{6}"$/);
    expect(image.urls.playback).toBeUndefined();
    const thumb = await server.client.fetchMedia(image.urls.thumbnail);
    expect(thumb.headers.get('content-type')).toBe('image/webp');
    const meta = await sharp(thumb.body).metadata();
    expect([meta.width, meta.height]).toEqual([320, 240]);
    // testsrc is colourful: the poster is not one flat colour.
    const stats = await sharp(thumb.body).stats();
    expect(Math.max(...stats.channels.slice(0, 3).map((c) => c.stdev))).toBeGreaterThan(10);
  });

  it('video › original with Range › 206 with Content-Range, the exact bytes, and only those charged', async () => {
    const user = await signedUpUser(server.client);
    const image = (await uploadVideo(server, user.token, 'clip.mp4', h264)).body.images[0]!;
    const before = (await server.client.usage(user.token)).body.transfer.outBytes;

    const res = await server.client.fetchMedia(image.urls.original, { range: 'bytes=100-1099' });

    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes 100-1099/${h264.length}`);
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('content-type')).toBe('video/mp4');
    expect(sha256(res.body)).toBe(sha256(h264.subarray(100, 1100)));
    const after = (await server.client.usage(user.token)).body.transfer.outBytes;
    expect(after - before).toBe(1000);
  });

  it('video › HEVC MOV turned 90° › displayed size swapped, then an H.264 playback copy made in the background', async () => {
    const user = await signedUpUser(server.client);

    const res = await uploadVideo(server, user.token, 'IMG_0001.MOV', hevc);

    expect(res.status).toBe(201);
    const image = res.body.images[0]!;
    expect(image).toMatchObject({
      kind: 'video',
      mediaType: 'video/quicktime',
      width: 240,
      height: 320,
      takenAt: '2023-07-14T08:00:00.000Z',
      playback: 'preparing',
    });
    expect(image.videoType).toMatch(/^video\/mp4; codecs="hvc1\./);
    const poster = await sharp((await server.client.fetchMedia(image.urls.preview)).body).metadata();
    expect([poster.width, poster.height]).toEqual([240, 320]);

    const ready = await settled(server, user.token, image.id);

    expect(ready.playback).toBe('ready');
    const copy = await server.client.fetchMedia(ready.urls.playback!);
    expect(copy.status).toBe(200);
    expect(copy.headers.get('content-type')).toBe('video/mp4');
    // An MP4 with its index in front (faststart): ftyp, then moov before mdat.
    expect(copy.body.toString('latin1', 4, 8)).toBe('ftyp');
    expect(copy.body.indexOf('moov')).toBeLessThan(copy.body.indexOf('mdat'));
    const ranged = await server.client.fetchMedia(ready.urls.playback!, { range: 'bytes=0-99' });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 0-99/${copy.body.length}`);
    // The copy counts toward the owner's storage, and is freed with the video.
    const state = await storedState(server, user.userId);
    const row = state.rows[0]!;
    expect(row.playback_bytes).toBe(copy.body.length);
    expect(state.storageUsed).toBe(row.original_bytes + row.thumbnail_bytes + row.preview_bytes + row.playback_bytes);
    expect(state.objects).toContain(`${user.userId}/${image.id}/playback.mp4`);

    expect((await server.client.deleteForGood(user.token, image.id)).status).toBe(204);
    expect(await storedState(server, user.userId)).toMatchObject({ rows: [], objects: [], storageUsed: 0 });
  });

  it('video › VP9 WebM › accepted as a video with its codec for canPlayType, and given an H.264 copy', async () => {
    const user = await signedUpUser(server.client);

    const res = await uploadVideo(server, user.token, 'clip.webm', webm);

    expect(res.status).toBe(201);
    expect(res.body.images[0]).toMatchObject({ kind: 'video', mediaType: 'video/webm', width: 320, height: 240 });
    expect(res.body.images[0]!.videoType).toBe('video/webm; codecs="vp09.00.10.08"');
    // Not every browser plays VP9 (Safari before 14): it gets an H.264 copy too. Waiting for it also
    // keeps its background write from showing up in a later test's check of leftover files.
    expect((await settled(server, user.token, res.body.images[0]!.id)).playback).toBe('ready');
  });

  it('video › photos beside videos › a photo stays a photo with no video fields', async () => {
    const user = await signedUpUser(server.client);
    const png = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#369' } })
      .png()
      .toBuffer();

    const res = await server.client.upload(user.token, [{ name: 'a.png', data: png, type: 'image/png' }]);

    expect(res.body.images[0]).toMatchObject({ kind: 'photo', durationMs: null, playback: null, videoType: null });
  });

  it('video › /api/v1/me › says videos are on', async () => {
    const user = await signedUpUser(server.client);
    expect((await server.client.me(user.token)).body).toMatchObject({ videos: true });
  });
});

describe('video › refused', () => {
  it.each([
    ['a truncated MP4', 'cut.mp4', () => h264.subarray(0, Math.floor(h264.length / 2)), 400, /damaged or incomplete/],
    ['a file that claims MP4 but is not', 'fake.mp4', fakeMp4, 400, /damaged or incomplete/],
    [
      'a 10-hour duration header',
      'long.mp4',
      () => withForgedDuration(h264, 10),
      413,
      /10 hours, longer than the 3 hours/,
    ],
    ['frames of 10000×16 pixels', 'wide.mp4', makeHugeFrameMp4, 413, /10000×16 pixels, more than the 8192/],
  ])(
    'video › %s › refused with a clear message, nothing stored or left in staging',
    async (_case, name, make, status, message) => {
      const user = await signedUpUser(server.client);

      const res = await uploadVideo(server, user.token, name, await make());

      expect(res.status).toBe(status);
      expect(res.body.error.message).toMatch(message);
      expect(res.body.error.message).toContain(name);
      expect(await storedState(server, user.userId)).toMatchObject({ rows: [], objects: [], temp: [], storageUsed: 0 });
    },
  );

  it('video › larger than PIXA_MAX_VIDEO_MB › 413 naming the video limit, while a photo keeps its own', async () => {
    const small = await startApiServer({ env: { PIXA_MAX_VIDEO_MB: '0.01', PIXA_MAX_UPLOAD_MB: '1' } });
    try {
      const user = await signedUpUser(small.client);
      const res = await uploadVideo(small, user.token, 'clip.mp4', h264);
      expect(res.status).toBe(413);
      expect(res.body.error.message).toMatch(/limit per video/);
      expect(await storedState(small, user.userId)).toMatchObject({ rows: [], objects: [], temp: [] });
    } finally {
      await small.close();
    }
  });

  it('video › without ffmpeg › a video is 415 naming the fix; photos, /readyz and /me still answer', async () => {
    const bare = await startApiServer({
      env: { PIXA_FFMPEG_PATH: '/nonexistent/ffmpeg', PIXA_FFPROBE_PATH: '/nonexistent/ffprobe' },
    });
    try {
      const user = await signedUpUser(bare.client);

      const res = await uploadVideo(bare, user.token, 'clip.mp4', h264);

      expect(res.status).toBe(415);
      expect(res.body.error.code).toBe('videos_unavailable');
      expect(res.body.error.message).toMatch(/ffmpeg is not installed.*apt-get install ffmpeg.*PIXA_FFMPEG_PATH/);
      const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } })
        .png()
        .toBuffer();
      expect((await bare.client.upload(user.token, [{ name: 'a.png', data: png }])).status).toBe(201);
      expect((await bare.client.request('GET', '/readyz')).status).toBe(200);
      expect((await bare.client.me(user.token)).body).toMatchObject({ videos: false });
    } finally {
      await bare.close();
    }
  });
});

describe('video › background jobs', () => {
  it('jobs › a worker that died holding the job › another takes it once the lease ends and makes the copy', async () => {
    const idle = await startApiServer({ env: { PIXA_JOB_CONCURRENCY: '0' } });
    const tmp = await mkdtemp(path.join(tmpdir(), 'pixa-jobs-'));
    const clock = manualClock(Date.now());
    const worker = startJobWorker({
      db: idle.db,
      handlers: { [PLAYBACK_JOB]: createPlaybackJob({ db: idle.db, store: idle.store, tmpDir: tmp }) },
      concurrency: 1,
      leaseMs: 60_000,
      // Only when woken: the test decides when this worker looks at the queue.
      pollMs: 600_000,
      now: clock.now,
    });
    try {
      const user = await signedUpUser(idle.client);
      const image = (await uploadVideo(idle, user.token, 'IMG_0002.MOV', hevc)).body.images[0]!;
      clock.set(Date.now());
      const [queued] = await findJobsByPayload(idle.db, PLAYBACK_JOB, { imageId: image.id });
      expect(queued).toMatchObject({ state: 'queued', attempts: 0 });
      // A worker takes the job, then dies: its lease runs for a minute and is never renewed.
      const taken = await takeJob(idle.db, 'worker-that-died', clock.now(), 60_000, [PLAYBACK_JOB]);
      expect(taken?.id).toBe(queued!.id);

      worker.wake();
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect((await idle.client.getImage(user.token, image.id)).body.playback).toBe('preparing');
      expect((await findJobsByPayload(idle.db, PLAYBACK_JOB, { imageId: image.id }))[0]?.locked_by).toBe(
        'worker-that-died',
      );

      clock.advance(60_001);
      worker.wake();
      const ready = await settled(idle, user.token, image.id);

      expect(ready.playback).toBe('ready');
      expect((await idle.client.fetchMedia(ready.urls.playback!)).status).toBe(200);
      const [done] = await findJobsByPayload(idle.db, PLAYBACK_JOB, { imageId: image.id });
      expect(done).toMatchObject({ state: 'done', attempts: 2, locked_by: null });
      const used = (await userRow(idle, user.userId)).storage_used_bytes;
      const state = await storedState(idle, user.userId);
      const row = state.rows[0]!;
      expect(used).toBe(row.original_bytes + row.thumbnail_bytes + row.preview_bytes + row.playback_bytes);
    } finally {
      await worker.stop();
      await idle.close();
      await rm(tmp, { recursive: true, force: true });
    }
  });

  it('jobs › a job that fails every attempt › is dead and the video says it could not be converted', async () => {
    const idle = await startApiServer({ env: { PIXA_JOB_CONCURRENCY: '0' } });
    const tmp = await mkdtemp(path.join(tmpdir(), 'pixa-jobs-'));
    const clock = manualClock(Date.now());
    const failing = createPlaybackJob({ db: idle.db, store: idle.store, tmpDir: tmp });
    const worker = startJobWorker({
      db: idle.db,
      handlers: {
        [PLAYBACK_JOB]: {
          run: async () => {
            throw new Error('conversion failed');
          },
          onDead: failing.onDead,
        },
      },
      concurrency: 1,
      pollMs: 600_000,
      maxAttempts: 3,
      retryBaseMs: 1000,
      now: clock.now,
    });
    try {
      const user = await signedUpUser(idle.client);
      const image = (await uploadVideo(idle, user.token, 'IMG_0003.MOV', hevc)).body.images[0]!;
      clock.set(Date.now());

      for (let attempt = 0; attempt < 3; attempt++) {
        worker.wake();
        await new Promise((resolve) => setTimeout(resolve, 200));
        // Past the longest back-off (1 s × 4²).
        clock.advance(20_000);
      }
      const failed = await settled(idle, user.token, image.id, 10_000);

      expect(failed.playback).toBe('failed');
      expect(failed.urls.playback).toBeUndefined();
      const [dead] = await findJobsByPayload(idle.db, PLAYBACK_JOB, { imageId: image.id });
      expect(dead).toMatchObject({ state: 'dead', attempts: 3, last_error: 'conversion failed' });
    } finally {
      await worker.stop();
      await idle.close();
      await rm(tmp, { recursive: true, force: true });
    }
  });
});

describe('video › original Pixa API', () => {
  it('legacy › /load_user_data after a video upload › lists its original link', async () => {
    const user = await signedUpUser(server.client);
    const image = (await uploadVideo(server, user.token, 'clip.mp4', h264)).body.images[0]!;

    const res = await server.client.request<{ images_links?: string[] }>('POST', '/load_user_data', {
      token: user.token,
    });

    expect(res.status).toBe(200);
    const links = JSON.stringify(res.body);
    expect(links).toContain(`/api/v1/images/${image.id}/original`);
  });
});

describe('video › with a decode budget of 64 MB', () => {
  let small: ApiServer;
  beforeAll(async () => {
    small = await startApiServer({ env: { PIXA_DECODE_MEMORY_MB: '64' } });
  });
  afterAll(() => small?.close());

  it('video › a poster whose decode (an ffmpeg process) needs more › 413 saying how much, nothing stored', async () => {
    const user = await signedUpUser(small.client);

    const res = await uploadVideo(small, user.token, 'clip.mp4', h264);

    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('video_too_large');
    expect(res.body.error.message).toMatch(
      /^"clip\.mp4" has frames of 320×240 pixels: decoding one needs about \d+ MB of memory, more than the 64 MB this server decodes with\./,
    );
    expect(await storedState(small, user.userId)).toMatchObject({ rows: [], objects: [], temp: [], storageUsed: 0 });
  });
});
