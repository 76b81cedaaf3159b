import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { signedUpUser } from '../helpers/api.js';
import { makePhoto, sha256 } from '../helpers/photos.js';
import { EMBEDDED_ONLY, IN_POD, manualClock, startApiServer, type ApiServer } from './support/server.js';
import {
  imageRows,
  objectKeysOf,
  setUserQuotas,
  storageEvents,
  storedState,
  transferCounters,
  transferFromLog,
} from './support/state.js';

const MB = 1024 * 1024;
const DAY = 24 * 3600 * 1000;
/** 22:00:30 UTC today: 1 h 59 min 30 s before the quota day ends. */
const START = Math.floor(Date.now() / DAY) * DAY + 22 * 3600 * 1000 + 30_000;

let server: ApiServer;
const clock = manualClock(START);

beforeAll(async () => {
  // A pod runs on the real clock; the cases that move the clock are embedded-only.
  server = await startApiServer({
    env: { PIXA_STORAGE_QUOTA_MB: '1', PIXA_DAILY_TRANSFER_MB: '1' },
    now: IN_POD ? undefined : clock.now,
  });
});
afterAll(() => server?.close());

let seed = 500;
const photo = () => makePhoto({ seed: seed++, width: 900, height: 600 });

const storedBytesOf = (rows: Awaited<ReturnType<typeof imageRows>>) =>
  rows.reduce((sum, row) => sum + row.original_bytes + row.thumbnail_bytes + row.preview_bytes, 0);

/** The counters agree with the event log, and the stored total with the rows. */
async function expectConsistent(userId: string) {
  const state = await storedState(server, userId);
  expect(state.storageUsed).toBe(storedBytesOf(state.rows));
  expect(state.transfer).toEqual(await transferFromLog(server, userId));
  expect(state.objects).toHaveLength(state.rows.length * 3);
  expect(state.temp).toEqual([]);
}

describe('usage', () => {
  it('usage › GET /api/v1/usage › has storage and today’s transfer with quotas and the reset time', async () => {
    const { token } = await signedUpUser(server.client);

    const res = await server.client.usage(token);

    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      storage: { usedBytes: 0, quotaBytes: 1 * MB, trashBytes: 0 },
      transfer: {
        day: new Date(START).toISOString().slice(0, 10),
        inBytes: 0,
        outBytes: 0,
        usedBytes: 0,
        quotaBytes: 1 * MB,
        resetsAt: new Date(Math.floor(START / DAY) * DAY + DAY).toISOString(),
      },
    });
  });

  it('usage › after an upload › storage counts the original and both derivatives, transfer the original', async () => {
    const { token, userId } = await signedUpUser(server.client);
    const data = await photo();

    await server.client.upload(token, [{ name: 'a.jpg', data }]);

    const usage = (await server.client.usage(token)).body;
    const [row] = await imageRows(server, userId);
    expect(usage.storage.usedBytes).toBe(data.length + row!.thumbnail_bytes + row!.preview_bytes);
    expect(usage.transfer).toMatchObject({ inBytes: data.length, outBytes: 0, usedBytes: data.length });
    await expectConsistent(userId);
  });

  it('usage › a duplicate upload › counts as transfer but not as storage', async () => {
    const { token, userId } = await signedUpUser(server.client);
    const data = await photo();
    await server.client.upload(token, [{ name: 'a.jpg', data }]);
    const before = (await server.client.usage(token)).body;

    await server.client.upload(token, [{ name: 'a.jpg', data }]);

    const after = (await server.client.usage(token)).body;
    expect(after.storage.usedBytes).toBe(before.storage.usedBytes);
    expect(after.transfer.inBytes).toBe(before.transfer.inBytes + data.length);
    await expectConsistent(userId);
  });

  it('usage › without a token › returns 401', async () => {
    const res = await server.client.request<{ error: { code: string } }>('GET', '/api/v1/usage');

    expect(res.status).toBe(401);
  });
});

describe('storage quota', () => {
  it('storage quota › the same photo again with less room left than its size › answers the existing image, no 429', async () => {
    const { token, userId } = await signedUpUser(server.client);
    const data = await makePhoto({ seed: 950, width: 900, height: 600 });
    const first = await server.client.upload(token, [{ name: 'a.jpg', data }]);
    const used = (await storedState(server, userId)).storageUsed;
    await setUserQuotas(server, userId, {
      daily_transfer_bytes: 0,
      storage_quota_bytes: used + Math.floor(data.length / 2),
    });

    const again = await server.client.upload(token, [{ name: 'a.jpg', data }]);

    expect(again.status).toBe(200);
    expect(again.body.images[0]).toMatchObject({ id: first.body.images[0]!.id, duplicate: true });
    expect((await storedState(server, userId)).storageUsed).toBe(used);
    await expectConsistent(userId);
  });

  it('storage quota › an upload that does not fit › returns 429 naming the quota and numbers, stores nothing, counts its bytes', async () => {
    const { token, userId } = await signedUpUser(server.client);
    await setUserQuotas(server, userId, { daily_transfer_bytes: 0 });
    const big = await makePhoto({ noise: true, width: 1000, height: 700 });
    expect(big.length).toBeGreaterThan(0.3 * MB);
    expect((await server.client.upload(token, [{ name: 'first.jpg', data: big }])).status).toBe(201);
    const before = await storedState(server, userId);

    const second = await makePhoto({ noise: true, width: 1000, height: 700, seed: 77 });
    const res = await server.client.upload(token, [{ name: 'second.jpg', data: second }]);

    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe('storage_quota_exceeded');
    expect(res.body.error.message).toMatch(/storage quota/i);
    expect(res.body.error.message).toContain('1.0 MB');
    expect(res.body.error.message).toMatch(/\d+\.\d MB.*\d+\.\d MB/);
    // Nothing stored, but the bytes were received: they count as the day's transfer, logged with the 429.
    const after = await storedState(server, userId);
    expect(after).toMatchObject({
      rows: before.rows,
      objects: before.objects,
      temp: [],
      storageUsed: before.storageUsed,
    });
    expect(after.transfer).toEqual({ bytesIn: before.transfer.bytesIn + second.length, bytesOut: 0 });
    expect(after.events).toEqual([
      ...before.events,
      expect.objectContaining({ operation: 'upload', image_id: null, bytes: second.length, status: 429 }),
    ]);
    await expectConsistent(userId);
  });

  it('storage quota › exactly full › the next upload is refused until a delete for good frees room at once', async () => {
    const { token, userId } = await signedUpUser(server.client);
    const data = await photo();
    const probe = await signedUpUser(server.client);
    await server.client.upload(probe.token, [{ name: 'a.jpg', data }]);
    const exactSize = storedBytesOf(await imageRows(server, probe.userId));
    await setUserQuotas(server, userId, { storage_quota_bytes: exactSize });

    const fits = await server.client.upload(token, [{ name: 'a.jpg', data }]);
    const full = await server.client.upload(token, [{ name: 'b.jpg', data: await photo() }]);
    await server.client.deleteForGood(token, fits.body.images[0]!.id);
    const afterDelete = await server.client.upload(token, [{ name: 'a.jpg', data }]);

    expect(fits.status).toBe(201);
    expect(full.status).toBe(429);
    expect(full.body.error.code).toBe('storage_quota_exceeded');
    expect(afterDelete.status).toBe(201);
    expect((await server.client.usage(token)).body.storage).toEqual({
      usedBytes: exactSize,
      quotaBytes: exactSize,
      trashBytes: 0,
    });
    await expectConsistent(userId);
  });

  it('storage quota › a per-account override of 0 › means unlimited', async () => {
    const { token, userId } = await signedUpUser(server.client);
    await setUserQuotas(server, userId, { storage_quota_bytes: 0, daily_transfer_bytes: 0 });
    const files = await Promise.all(
      [1, 2].map(async (s) => ({
        name: `${s}.jpg`,
        data: await makePhoto({ noise: true, width: 1400, height: 1000, seed: s }),
      })),
    );

    const res = await server.client.upload(token, files);

    expect(res.status).toBe(201);
    const usage = (await server.client.usage(token)).body;
    expect(usage.storage.usedBytes).toBeGreaterThan(1 * MB);
    expect(usage.storage.quotaBytes).toBe(0);
  });

  it('storage quota › ten parallel uploads racing for the last room › never overshoot and leave exact books', async () => {
    const probe = await signedUpUser(server.client);
    const racer = await signedUpUser(server.client);
    await setUserQuotas(server, probe.userId, { storage_quota_bytes: 0, daily_transfer_bytes: 0 });
    const files = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => ({ name: `race-${i}.jpg`, data: await photo() })),
    );
    await server.client.upload(probe.token, files);
    const sizes = new Map((await imageRows(server, probe.userId)).map((row) => [row.sha256, storedBytesOf([row])]));
    const sorted = [...sizes.values()].sort((a, b) => a - b);
    const quota = sorted.slice(0, 4).reduce((a, b) => a + b, 0) + Math.floor(sorted[4]! / 2);
    await setUserQuotas(server, racer.userId, { storage_quota_bytes: quota, daily_transfer_bytes: 0 });

    const results = await Promise.all(files.map((file) => server.client.upload(racer.token, [file])));

    const accepted = files.filter((_, i) => results[i]!.status === 201);
    const rejected = files.filter((_, i) => results[i]!.status !== 201);
    expect(accepted.length).toBeGreaterThan(0);
    expect(accepted.length).toBeLessThanOrEqual(4);
    for (const [i, res] of results.entries()) {
      expect([201, 429]).toContain(res.status);
      if (res.status === 429) expect(res.body.error.code, `upload ${i}`).toBe('storage_quota_exceeded');
    }
    const rows = await imageRows(server, racer.userId);
    expect(rows.map((r) => r.sha256).sort()).toEqual(accepted.map((f) => sha256(f.data)).sort());
    for (const file of rejected) expect(rows.map((r) => r.sha256)).not.toContain(sha256(file.data));
    expect(storedBytesOf(rows)).toBeLessThanOrEqual(quota);
    const objects = await objectKeysOf(server, racer.userId);
    expect(objects.sort()).toEqual(
      rows
        .flatMap((r) => ['original', 'preview.webp', 'thumb.webp'].map((name) => `${racer.userId}/${r.id}/${name}`))
        .sort(),
    );
    const uploads = (await storageEvents(server, racer.userId)).filter((e) => e.operation === 'upload');
    expect(
      uploads
        .filter((e) => e.status < 300)
        .map((e) => e.object_key)
        .sort(),
    ).toEqual(objects);
    // Each refused upload was received whole before it was refused: its bytes count, with its 429.
    const refusals = uploads.filter((e) => e.status >= 300);
    expect(refusals.every((e) => e.status === 429 && e.image_id === null)).toBe(true);
    expect(refusals.map((e) => e.bytes).sort()).toEqual(rejected.map((f) => f.data.length).sort());
    await expectConsistent(racer.userId);
    expect((await transferCounters(server, racer.userId)).bytesIn).toBe(
      files.reduce((sum, f) => sum + f.data.length, 0),
    );
  });
});

describe('daily transfer quota', () => {
  it.skipIf(EMBEDDED_ONLY)(
    'daily transfer › downloads past the quota › 429 naming the quota, Retry-After until UTC midnight; thumbnails still load',
    async () => {
      const { token, userId } = await signedUpUser(server.client);
      const data = await photo();
      const up = await server.client.upload(token, [{ name: 'a.jpg', data }]);
      const image = up.body.images[0]!;
      await setUserQuotas(server, userId, { daily_transfer_bytes: data.length * 3 + 10 });
      clock.set(START);

      const statuses: number[] = [];
      let refused;
      for (let i = 0; i < 4; i++) {
        const res = await server.client.fetchMedia(image.urls.original);
        statuses.push(res.status);
        if (res.status === 429) refused = res;
      }

      expect(statuses).toEqual([200, 200, 429, 429]);
      expect(refused!.body.error.code).toBe('transfer_quota_exceeded');
      expect(refused!.body.error.message).toMatch(/daily transfer quota/i);
      expect(refused!.body.error.message).toMatch(/needs \d+ KB, and \d+ KB of your \d+ KB for today/);
      const midnight = Math.floor(START / DAY) * DAY + DAY;
      expect(Number(refused!.headers.get('retry-after'))).toBe(Math.ceil((midnight - START) / 1000));
      expect(refused!.body.error.message).toContain('in 2 h 0 min');
      expect((await server.client.fetchMedia(image.urls.thumbnail)).status).toBe(200);
      expect((await server.client.usage(token)).body.transfer.usedBytes).toBe(data.length * 3);
      await expectConsistent(userId);
    },
  );

  it('daily transfer › an upload past the quota › returns 429, stores nothing, counts what it read', async () => {
    const { token, userId } = await signedUpUser(server.client);
    const first = await photo();
    await server.client.upload(token, [{ name: 'a.jpg', data: first }]);
    await setUserQuotas(server, userId, { daily_transfer_bytes: first.length + 100 });
    const before = await storedState(server, userId);
    const second = await photo();

    const res = await server.client.upload(token, [{ name: 'b.jpg', data: second }]);

    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe('transfer_quota_exceeded');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    // Reading stopped at the chunk that crossed the quota; that chunk was received, so the day is used up.
    const after = await storedState(server, userId);
    expect(after).toMatchObject({
      rows: before.rows,
      objects: before.objects,
      temp: [],
      storageUsed: before.storageUsed,
    });
    const received = after.transfer.bytesIn - before.transfer.bytesIn;
    expect(received).toBeGreaterThan(100);
    expect(received).toBeLessThanOrEqual(second.length);
    expect(after.events).toEqual([
      ...before.events,
      expect.objectContaining({ operation: 'upload', image_id: null, bytes: received, status: 429 }),
    ]);
    await expectConsistent(userId);
    const again = await server.client.upload(token, [{ name: 'b.jpg', data: second }]);
    expect(again.status).toBe(429);
    expect(await storedState(server, userId)).toEqual(after);
  });

  it('daily transfer › refused non-images › count until the quota is used, then uploads are refused up front', async () => {
    const { token, userId } = await signedUpUser(server.client);
    await setUserQuotas(server, userId, { daily_transfer_bytes: 1 * MB });
    const junk = Buffer.alloc(300 * 1024, 'not an image ');
    const statuses: number[] = [];
    // 300 KB each: three refused 415s, then the fourth is cut off when the quota is reached.
    for (let i = 0; i < 4; i++) {
      statuses.push((await server.client.upload(token, [{ name: `junk-${i}.jpg`, data: junk }])).status);
    }
    expect(statuses).toEqual([415, 415, 415, 429]);
    const used = await storedState(server, userId);
    expect(used.transfer.bytesIn).toBeGreaterThanOrEqual(1 * MB);
    expect(used.transfer.bytesIn).toBeLessThanOrEqual(4 * junk.length);
    expect(used.events.map((e) => e.status)).toEqual([415, 415, 415, 429]);
    expect(used.events.slice(0, 3).map((e) => e.bytes)).toEqual([junk.length, junk.length, junk.length]);
    expect((await server.client.usage(token)).body.transfer.inBytes).toBe(used.transfer.bytesIn);

    const next = await server.client.upload(token, [{ name: 'junk.jpg', data: junk }]);

    expect(next.status).toBe(429);
    expect(next.body.error.code).toBe('transfer_quota_exceeded');
    // Refused before a byte of it was read: nothing more counts.
    expect(next.body.error.message).toContain('this upload needs 1 KB');
    expect(await storedState(server, userId)).toEqual(used);
    await expectConsistent(userId);
  });

  it.skipIf(EMBEDDED_ONLY)('daily transfer › the next UTC day › the quota is fresh again', async () => {
    const { token, userId } = await signedUpUser(server.client);
    const data = await photo();
    const up = await server.client.upload(token, [{ name: 'a.jpg', data }]);
    await setUserQuotas(server, userId, { daily_transfer_bytes: data.length + 10 });
    clock.set(START);
    expect((await server.client.fetchMedia(up.body.images[0]!.urls.original)).status).toBe(429);

    clock.set(Math.floor(START / DAY) * DAY + DAY + 1000);
    try {
      const res = await server.client.fetchMedia(
        (await server.client.getImage(token, up.body.images[0]!.id)).body.urls.original,
      );

      expect(res.status).toBe(200);
      const usage = (await server.client.usage(token)).body.transfer;
      expect(usage).toMatchObject({
        day: new Date(clock.now()).toISOString().slice(0, 10),
        inBytes: 0,
        outBytes: data.length,
      });
    } finally {
      clock.set(START);
    }
  });

  it.skipIf(EMBEDDED_ONLY).each([
    [22 * 3600 + 30, '1 h 60 min', '2 h 0 min'],
    [23 * 3600, '0 h 60 min', '1 h 0 min'],
    [23 * 3600 + 59 * 60 + 59, '0 h ', '1 min'],
  ])(
    'daily transfer › refused at %i s into the day › the message never says "%s"',
    async (secondsIntoDay, wrong, right) => {
      const { token, userId } = await signedUpUser(server.client);
      const data = await photo();
      const up = await server.client.upload(token, [{ name: 'a.jpg', data }]);
      await setUserQuotas(server, userId, { daily_transfer_bytes: 1 });
      clock.set(Math.floor(START / DAY) * DAY + secondsIntoDay * 1000);
      try {
        const res = await server.client.fetchMedia(up.body.images[0]!.urls.original);

        expect(res.status).toBe(429);
        expect(res.body.error.message).not.toContain(wrong);
        expect(res.body.error.message).toMatch(new RegExp(`in (${right})`));
      } finally {
        clock.set(START);
      }
    },
  );
});
