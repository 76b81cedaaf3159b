import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { openDatabase } from '../../src/db/database.js';
import { apiClient, signedUpUser } from '../helpers/api.js';
import { DIALECTS, type TestDatabase } from '../helpers/databases.js';
import { makePhoto } from '../helpers/photos.js';
import { startPod, type StartedPod } from '../helpers/pod.js';

/** How long a gateway trusts an image row or a session it read (media-cache.ts, session-check.ts). */
const TRUST_MS = 2_000;
/** What the check allows on top of it: two processes' scheduling on a busy machine, not a speed. */
const LEEWAY_MS = 3_000;

const shared = DIALECTS.find((dialect) => dialect.name !== 'sqlite' && !dialect.skipReason);
if (!shared) console.warn('pod replicas skipped: set PIXA_TEST_POSTGRES_URL or PIXA_TEST_MYSQL_URL');

/** Asks `ask` until it answers `status`; the time that took, or Infinity when it never did within `limitMs`. */
async function timeUntil(ask: () => Promise<number>, status: number, limitMs: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < limitMs) {
    if ((await ask()) === status) return Date.now() - start;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return Infinity;
}

/**
 * Two pods sharing one database and one object store, as two replicas behind a load balancer. Each
 * gateway answers sessions, gallery pages and media itself from what they share, remembering rows and
 * sessions for 2 s: what one replica ends or deletes is refused there at once, and on the other once
 * that trust has run out.
 */
describe.skipIf(!shared)('pod mode › two replicas sharing a database and a store', () => {
  let database: TestDatabase;
  let objects: string;
  let first: StartedPod;
  let second: StartedPod;

  beforeAll(async () => {
    database = await shared!.createDatabase();
    objects = await mkdtemp(path.join(os.tmpdir(), 'pixa-replicas-'));
    const secrets = {
      authSecretKey: randomBytes(32).toString('base64url'),
      internalToken: randomBytes(32).toString('base64url'),
    };
    const env = { PIXA_DATABASE_URL: database.url, PIXA_STORAGE_URL: `file://${objects}` };
    first = await startPod({ env, secrets });
    second = await startPod({ env, secrets });
  }, 180_000);

  afterAll(async () => {
    await Promise.all([first?.stop(), second?.stop()]);
    await database?.drop();
    await rm(objects, { recursive: true, force: true });
  });

  test('a photo deleted for good on one replica › not served there at once, nor on the other after 2 s', async () => {
    const a = apiClient(first.gatewayUrl);
    const b = apiClient(second.gatewayUrl);
    const { token } = await signedUpUser(a);
    const uploaded = await a.upload(token, [{ name: 'gone.jpg', data: await makePhoto({ seed: 7 }) }]);
    expect(uploaded.status).toBe(201);
    const image = uploaded.body.images[0]!;
    const thumbnail = image.urls.thumbnail;
    // Both gateways have read the row and hold the thumbnail's bytes.
    for (const client of [a, b, a, b]) expect((await client.fetchMedia(thumbnail)).status).toBe(200);
    expect((await b.fetchMedia(image.urls.preview)).status).toBe(200);

    expect((await a.deleteForGood(token, image.id)).status).toBe(204);

    expect((await a.fetchMedia(thumbnail)).status).toBe(404);
    expect((await a.fetchMedia(image.urls.preview)).status).toBe(404);
    const waited = await timeUntil(async () => (await b.fetchMedia(thumbnail)).status, 404, TRUST_MS + LEEWAY_MS);
    expect(waited).toBeLessThanOrEqual(TRUST_MS + LEEWAY_MS);
    expect((await b.fetchMedia(image.urls.preview)).status).toBe(404);
    expect((await b.list(token)).body.items).toEqual([]);
  });

  test('signed out on one replica › refused there at once, on the other after 2 s', async () => {
    const a = apiClient(first.gatewayUrl);
    const b = apiClient(second.gatewayUrl);
    const { token } = await signedUpUser(a);
    expect((await a.list(token)).status).toBe(200);
    expect((await b.list(token)).status).toBe(200);

    expect((await a.logout(token)).status).toBe(204);

    const refused = await a.list(token);
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe('unauthorized');
    const waited = await timeUntil(async () => (await b.list(token)).status, 401, TRUST_MS + LEEWAY_MS);
    expect(waited).toBeLessThanOrEqual(TRUST_MS + LEEWAY_MS);
  });

  test('previews through both gateways at once › the day’s transfer never passes the quota', async () => {
    const a = apiClient(first.gatewayUrl);
    const b = apiClient(second.gatewayUrl);
    const { token, userId } = await signedUpUser(a);
    const uploaded = await a.upload(token, [{ name: 'shared.jpg', data: await makePhoto({ seed: 8 }) }]);
    const image = uploaded.body.images[0]!;
    const before = (await a.usage(token)).body.transfer.usedBytes;
    // Room for four previews and a half today, set before either gateway has read the quota.
    const db = await openDatabase(database.url, { poolSize: 1 });
    let size: number;
    try {
      const row = await db.db
        .selectFrom('images')
        .select('preview_bytes')
        .where('id', '=', image.id)
        .executeTakeFirstOrThrow();
      size = Number(row.preview_bytes);
      await db.db
        .updateTable('users')
        .set({ daily_transfer_bytes: before + 4 * size + Math.floor(size / 2) })
        .where('id', '=', userId)
        .execute();
    } finally {
      await db.close();
    }
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).fetchMedia(image.urls.preview)),
    );
    expect(answers.filter((answer) => answer.status !== 200).map((answer) => answer.status)).toEqual(
      Array.from({ length: 36 }, () => 429),
    );
    expect((await b.usage(token)).body.transfer.usedBytes).toBe(before + 4 * size);
  });
});
