import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { signedUpUser } from '../helpers/api.js';
import { makePhoto } from '../helpers/photos.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { integrityOf, NO_PROBLEMS, problemsOf } from './support/integrity.js';

let server: TestServer;
let api: TestServer['client'];

beforeAll(async () => {
  server = await startTestServer();
  api = server.client;
});
afterAll(() => server?.close());

async function setQuotas(userId: string, quotas: { storage_quota_bytes?: number; daily_transfer_bytes?: number }) {
  await server.db.updateTable('users').set(quotas).where('id', '=', userId).execute();
}

async function storedOf(userId: string) {
  const rows = await server.db.selectFrom('images').selectAll().where('owner_id', '=', userId).execute();
  const user = await server.db
    .selectFrom('users')
    .select('storage_used_bytes')
    .where('id', '=', userId)
    .executeTakeFirstOrThrow();
  const sum = rows.reduce(
    (total, row) => total + Number(row.original_bytes) + Number(row.thumbnail_bytes) + Number(row.preview_bytes),
    0,
  );
  return { ids: rows.map((row) => row.id).sort(), sum, counted: Number(user.storage_used_bytes) };
}

const photos = (count: number, seed: number, size = { width: 160, height: 120 }) =>
  Promise.all(Array.from({ length: count }, (_, i) => makePhoto({ ...size, seed: seed + i })));

describe('storage quota under concurrency', () => {
  test('quota › two uploads that each fit but not together, at once › exactly one is stored', async () => {
    const user = await signedUpUser(api, 'pair');
    const [a, b] = await photos(2, 1400, { width: 800, height: 600 });
    // Room for either photo with its derivatives, not for both: measured on a throwaway account.
    const probe = await signedUpUser(api, 'probe');
    const sizes: number[] = [];
    for (const data of [a!, b!]) {
      expect((await api.upload(probe.token, [{ name: 'p.jpg', data }])).status).toBe(201);
      sizes.push((await storedOf(probe.userId)).sum);
    }
    const each = [sizes[0]!, sizes[1]! - sizes[0]!];
    await setQuotas(user.userId, { storage_quota_bytes: Math.max(...each) + Math.floor(Math.min(...each) / 2) });

    const results = await Promise.all([
      api.upload(user.token, [{ name: 'a.jpg', data: a! }]),
      api.upload(user.token, [{ name: 'b.jpg', data: b! }]),
    ]);

    expect(results.map((r) => r.status).sort()).toEqual([201, 429]);
    const refused = results.find((r) => r.status === 429)!;
    expect(refused.body.error.code).toBe('storage_quota_exceeded');
    const stored = await storedOf(user.userId);
    expect(stored.ids).toEqual([results.find((r) => r.status === 201)!.body.images[0]!.id]);
    expect(stored.counted).toBe(stored.sum);
    expect(problemsOf(await integrityOf(server))).toEqual(NO_PROBLEMS);
  });

  test('quota › 100 concurrent uploads near the quota › never over it; accepted ones complete, refused ones absent', async () => {
    const user = await signedUpUser(api, 'crowd');
    const data = await photos(100, 1500);
    const quota = 120_000;
    await setQuotas(user.userId, { storage_quota_bytes: quota });

    const results = await Promise.all(
      data.map((photo, i) => api.upload(user.token, [{ name: `crowd-${i}.jpg`, data: photo }])),
    );

    const statuses = new Map<number, number>();
    for (const res of results) statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    console.info(`100 uploads against a ${quota}-byte quota: ${JSON.stringify(Object.fromEntries(statuses))}`);
    expect([...statuses.keys()].every((status) => status === 201 || status === 429)).toBe(true);
    for (const res of results.filter((r) => r.status === 429)) {
      expect(res.body.error.code).toBe('storage_quota_exceeded');
    }
    const accepted = results.filter((r) => r.status === 201).map((r) => r.body.images[0]!.id);
    expect(accepted.length).toBeGreaterThan(0);
    expect(accepted.length).toBeLessThan(100);
    const stored = await storedOf(user.userId);
    expect(stored.ids).toEqual([...accepted].sort());
    expect(stored.sum).toBeLessThanOrEqual(quota);
    expect(stored.counted).toBe(stored.sum);
    expect(problemsOf(await integrityOf(server))).toEqual(NO_PROBLEMS);
  }, 60_000);
});

describe('transfer quota under concurrency', () => {
  test('transfer › 30 concurrent downloads crossing the daily quota › total within it, counters equal the log', async () => {
    const user = await signedUpUser(api, 'downloads');
    const [photo] = await photos(1, 1600, { width: 1200, height: 900 });
    const uploaded = await api.upload(user.token, [{ name: 'popular.jpg', data: photo! }]);
    expect(uploaded.status).toBe(201);
    const image = uploaded.body.images[0]!;
    const received = photo!.length;
    // Room for the upload already counted and five and a half downloads of the original.
    const quota = received + Math.floor(5.5 * image.size);
    await setQuotas(user.userId, { daily_transfer_bytes: quota });

    const results = await Promise.all(Array.from({ length: 30 }, () => api.fetchMedia(image.urls.original)));

    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 429);
    console.info(`30 downloads against room for 5.5: ${ok.length} served, ${refused.length} refused`);
    expect(ok.length + refused.length).toBe(30);
    expect(ok.length).toBe(5);
    for (const res of ok) expect(res.body.length).toBe(image.size);
    for (const res of refused) expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    const usage = (await api.usage(user.token)).body.transfer;
    expect(usage.usedBytes).toBeLessThanOrEqual(quota);
    expect(usage.outBytes).toBe(ok.length * image.size);
    const report = await integrityOf(server);
    expect(problemsOf(report)).toEqual(NO_PROBLEMS);
  });
});
