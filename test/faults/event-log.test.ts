import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openDatabase, type Database } from '../../src/db/database.js';
import { utcDay } from '../../src/lib/time.js';
import { insertUser } from '../../src/modules/auth/user.repository.js';
import { createEventBatcher } from '../../src/modules/usage/event-batcher.js';
import { rollUpEvents } from '../../src/modules/usage/event-rollup.js';
import { chargeRangedRead, createRangedReadLog } from '../../src/modules/usage/ranged-read-log.js';
import {
  appendEvents,
  eventDaysOf,
  sumEvents,
  type StorageEvent,
} from '../../src/modules/usage/storage-event.repository.js';
import { reserveTransfer, transferOfDay } from '../../src/modules/usage/transfer.repository.js';
import { createUsageService } from '../../src/modules/usage/usage.service.js';
import { announceSkip, DIALECTS, openMigratedDatabase, type MigratedDatabase } from '../helpers/databases.js';

const DAY = 24 * 60 * 60 * 1000;
/** 2026-11-29T15:00:00Z: a fixed "now", so every day boundary is known. */
const NOW = Date.UTC(2026, 10, 29, 15);
const QUOTAS = { storageQuotaBytes: 0, dailyTransferBytes: 0 };

async function addUser(db: Database['db']): Promise<string> {
  const id = randomUUID();
  await insertUser(db, {
    id,
    username: `u${id.slice(0, 8)}`,
    username_key: `u${id.slice(0, 8)}`,
    password_hash: 'x',
    role: 'user',
    storage_quota_bytes: null,
    daily_transfer_bytes: null,
    storage_used_bytes: 0,
    created_at: 0,
  });
  return id;
}

const event = (userId: string, at: number, overrides: Partial<StorageEvent> = {}): StorageEvent => ({
  at,
  user_id: userId,
  image_id: null,
  operation: 'download',
  object_key: `${userId}/${randomUUID()}/thumb.webp`,
  bytes: 100,
  status: 200,
  ...overrides,
});

/** Sixty days of a busy account: views, ranged reads, uploads, deletes and a refused request each day. */
function history(userId: string): StorageEvent[] {
  const events: StorageEvent[] = [];
  for (let day = 0; day < 60; day++) {
    const start = NOW - day * DAY - 14 * 60 * 60 * 1000;
    for (let i = 0; i < 5; i++) events.push(event(userId, start + i * 60_000, { bytes: 1000 + day * 7 + i }));
    events.push(event(userId, start + 1, { operation: 'upload', status: 201, bytes: 50_000 + day }));
    events.push(event(userId, start + 2, { operation: 'download', status: 206, bytes: 1 }));
    events.push(event(userId, start + 3, { operation: 'delete', status: 204, bytes: 30_000 }));
    events.push(event(userId, start + 4, { operation: 'download', status: 416, bytes: 999_999 }));
  }
  return events;
}

const rowCount = async (db: Database['db'], userId: string): Promise<number> =>
  (await db.selectFrom('storage_events').select('id').where('user_id', '=', userId).execute()).length;

/** Sums over the whole log and from the start of each of the last 60 days. */
async function sumsOf(db: Database['db'], userId: string) {
  const sums = [await sumEvents(db, userId, 0)];
  for (let day = 0; day < 60; day++) sums.push(await sumEvents(db, userId, Math.floor(NOW / DAY - day) * DAY));
  return sums;
}

for (const dialect of DIALECTS) {
  describe.skipIf(dialect.skipReason)(`storage event log on ${dialect.name}`, () => {
    announceSkip('event log', dialect);
    let database: MigratedDatabase;

    beforeAll(async () => {
      database = await openMigratedDatabase(dialect);
    });
    afterAll(async () => {
      await database?.close();
    });

    it('roll-up › events past the retention become daily totals; sums and usage figures do not change', async () => {
      const { db } = database;
      const user = await addUser(db);
      await appendEvents(db, history(user));
      const day = utcDay(NOW);
      await reserveTransfer(db, dialect.name, user, day, 'in', 12_345, 0);
      await reserveTransfer(db, dialect.name, user, day, 'out', 678, 0);
      const usage = createUsageService({ db, quotas: QUOTAS, now: () => NOW });
      const [sumsBefore, transferBefore] = [await sumsOf(db, user), await usage.transfer(user)];

      const rolled = await rollUpEvents(db, dialect.name, { retentionDays: 30, now: NOW, batchSize: 97 });

      // Today and the 30 whole days before it stay row by row; the 29 days before those are totals.
      expect(rolled).toBe(29 * 9);
      expect(await rowCount(db, user)).toBe(31 * 9);
      const days = await eventDaysOf(db, user);
      expect(days).toHaveLength(29 * 3);
      expect(days.find((d) => d.operation === 'download' && d.day === utcDay(NOW - 59 * DAY))).toMatchObject({
        events: 7,
        bytes: 5 * (1000 + 59 * 7) + 10 + 1,
      });
      expect(await sumsOf(db, user)).toEqual(sumsBefore);
      expect(await usage.transfer(user)).toEqual(transferBefore);
      expect(await transferOfDay(db, user, day)).toEqual({ bytesIn: 12_345, bytesOut: 678, bytesReserved: 0 });

      // Nothing left to do: a second run changes nothing.
      expect(await rollUpEvents(db, dialect.name, { retentionDays: 30, now: NOW })).toBe(0);
      expect(await sumsOf(db, user)).toEqual(sumsBefore);
    });

    // Replicas share MySQL/MariaDB or PostgreSQL; SQLite is embedded mode's single process.
    it.skipIf(dialect.name === 'sqlite')(
      'roll-up › three replicas at once count every event exactly once',
      async () => {
        const { db } = database;
        const user = await addUser(db);
        await appendEvents(db, history(user));
        const before = await sumsOf(db, user);
        const replicas = await Promise.all([0, 1, 2].map(() => openDatabase(database.url)));
        try {
          await Promise.all(
            replicas.map((replica) =>
              rollUpEvents(replica.db, dialect.name, { retentionDays: 7, now: NOW, batchSize: 25 }),
            ),
          );
          // A replica stops early when another took its batch; a last run finishes what is left.
          await rollUpEvents(db, dialect.name, { retentionDays: 7, now: NOW });
        } finally {
          await Promise.all(replicas.map((replica) => replica.close()));
        }
        expect(await rowCount(db, user)).toBe(8 * 9);
        expect(await sumsOf(db, user)).toEqual(before);
        const days = await eventDaysOf(db, user);
        expect(days.reduce((sum, d) => sum + d.events, 0)).toBe(52 * 9);
      },
    );

    it('ranged reads › 300 one-byte ranges of one photo by one client are one row; counter and log agree', async () => {
      const { db } = database;
      const user = await addUser(db);
      const log = createRangedReadLog();
      const key = `${user}/${randomUUID()}/original`;
      const read = (at: number, client: string, bytes = 1) =>
        chargeRangedRead(
          db,
          dialect.name,
          log,
          event(user, at, { object_key: key, status: 206, bytes }),
          client,
          0,
          'it',
        );

      for (let i = 0; i < 300; i++) await read(NOW + i * 100, '203.0.113.7');
      await read(NOW + 31_000, '198.51.100.2', 10);
      // Much later, the same client starts a row of its own; so does the next UTC day.
      await read(NOW + 60 * 60 * 1000, '203.0.113.7', 5);

      const rows = await db
        .selectFrom('storage_events')
        .select(['bytes', 'status'])
        .where('user_id', '=', user)
        .orderBy('at')
        .execute();
      expect(rows.map((row) => Number(row.bytes))).toEqual([300, 10, 5]);
      expect(rows.every((row) => Number(row.status) === 206)).toBe(true);
      const counter = await transferOfDay(db, user, utcDay(NOW));
      expect((await sumEvents(db, user, 0)).download).toBe(counter.bytesOut);
    });

    it('thumbnail views › repeated views of one thumbnail in a batch are one row with all their bytes', async () => {
      const { db } = database;
      const user = await addUser(db);
      const batcher = createEventBatcher(db, { intervalMs: 60_000, maxBatch: 10_000 });
      const thumbnails = [0, 1, 2].map(() => `${user}/${randomUUID()}/thumb.webp`);
      for (let i = 0; i < 600; i++) batcher.add(event(user, NOW + i, { object_key: thumbnails[i % 3]!, bytes: 10 }));
      await batcher.close();
      expect(await rowCount(db, user)).toBe(3);
      expect((await sumEvents(db, user, 0)).download).toBe(6000);
    });
  });
}
