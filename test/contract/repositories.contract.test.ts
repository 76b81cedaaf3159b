import { randomUUID } from 'node:crypto';
import net from 'node:net';

import { Migrator, sql, type Kysely, type Migration } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isDatabaseUnavailable, isUniqueViolation, openDatabase, type Database } from '../../src/db/database.js';
import { inTransaction } from '../../src/db/transaction.js';
import type { Executor } from '../../src/db/executor.js';
import { MIGRATION_NAMES, migrateToLatest } from '../../src/db/migrate.js';
import * as initialSchema from '../../src/db/migrations/0001-initial.js';
import * as throttleScopesSchema from '../../src/db/migrations/0002-throttle-scopes.js';
import * as eventRollupSchema from '../../src/db/migrations/0003-event-rollup.js';
import * as throttleEvents from '../../src/modules/auth/throttle-event.repository.js';
import * as sessions from '../../src/modules/auth/session.repository.js';
import * as users from '../../src/modules/auth/user.repository.js';
import * as albums from '../../src/modules/albums/album.repository.js';
import * as images from '../../src/modules/images/image.repository.js';
import * as jobs from '../../src/modules/jobs/job.repository.js';
import { appendEvents, sumEvents } from '../../src/modules/usage/storage-event.repository.js';
import { reserveTransfer, transferOfDay, type Direction } from '../../src/modules/usage/transfer.repository.js';
import {
  DIALECTS,
  announceSkip,
  migrateConcurrently,
  openMigratedDatabase,
  type MigratedDatabase,
} from '../helpers/databases.js';
import { imageRow as baseImageRow, userRow as baseUserRow } from '../helpers/rows.js';

const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);
const DAY = 86_400_000;

const userRow = (overrides: Partial<users.UserRow> = {}): users.UserRow =>
  baseUserRow({ created_at: NOW, ...overrides });

async function addUser(db: Executor, overrides: Partial<users.UserRow> = {}): Promise<users.UserRow> {
  const row = userRow(overrides);
  await users.insertUser(db, row);
  return row;
}

function imageRow(ownerId: string, overrides: Partial<images.ImageRow> = {}): images.ImageRow {
  return baseImageRow(ownerId, { taken_at: NOW, uploaded_at: NOW, ...overrides });
}

/** Sizes of 50 concurrent requests, 20 to 80 bytes each, about 2,500 bytes in all. */
const RACE_SIZES = Array.from({ length: 50 }, (_, i) => 20 + ((i * 37) % 61));
const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);

class RolledBack extends Error {}

/** Outcomes of transactions that each either committed true/false or rolled back on purpose. */
function outcomes(results: PromiseSettledResult<boolean>[]): { accepted: number[]; rejected: number[] } {
  const accepted: number[] = [];
  const rejected: number[] = [];
  results.forEach((result, i) => {
    if (result.status === 'rejected') {
      // Anything but the deliberate rollback (a deadlock, a lock timeout) is a failure of the test.
      if (!(result.reason instanceof RolledBack)) throw result.reason;
      return;
    }
    (result.value ? accepted : rejected).push(RACE_SIZES[i]!);
  });
  return { accepted, rejected };
}

for (const dialect of DIALECTS) {
  announceSkip('repository contract', dialect);

  describe.skipIf(dialect.skipReason !== undefined)(`${dialect.name} repositories`, () => {
    let database: MigratedDatabase;
    let db: Database['db'];

    beforeAll(async () => {
      database = await openMigratedDatabase(dialect);
      db = database.db;
    });

    afterAll(async () => {
      await database?.close();
    });

    describe('schema', () => {
      it('migrations started by three processes at once apply each migration exactly once', async () => {
        const fresh = await dialect.createDatabase();
        try {
          const applied = await migrateConcurrently(fresh.url, 3);
          expect(applied.flat().sort()).toEqual([...MIGRATION_NAMES]);
          const opened = await openDatabase(fresh.url);
          try {
            const rows = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(
              opened.db,
            );
            expect(rows.rows.map((row) => row.name)).toEqual([...MIGRATION_NAMES]);
            expect(await migrateToLatest(opened.db)).toEqual([]);
            expect(await users.listUsers(opened.db)).toEqual([]);
          } finally {
            await opened.close();
          }
        } finally {
          await fresh.drop();
        }
      });

      it('a database of the schema before albums, with photos in it, migrates with no photo or storage lost', async () => {
        const fresh = await dialect.createDatabase();
        try {
          const opened = await openDatabase(fresh.url);
          try {
            // The schema as it was before 0004, migrated by the migrations of that time.
            const before: Record<string, Migration> = {
              '0001-initial': initialSchema,
              '0002-throttle-scopes': throttleScopesSchema,
              '0003-event-rollup': eventRollupSchema,
            };
            // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the schema of an older version
            const old = opened.db as unknown as Kysely<any>;
            const migrator = new Migrator({ db: old, provider: { getMigrations: async () => before } });
            expect((await migrator.migrateToLatest()).error).toBeUndefined();
            const owner = userRow({ storage_used_bytes: 3 * (695_070 + 12_000 + 150_000) });
            // Rows with only the columns of that time: later migrations add the rest with their defaults.
            const { storage_reserved_bytes: _reserved, ...ownerColumns } = owner;
            await old.insertInto('users').values(ownerColumns).execute();
            const added = {
              favorite: 0,
              trashed_at: null,
              kind: 'photo',
              duration_ms: null,
              playback_type: null,
              playback_state: null,
              playback_bytes: 0,
            } as const;
            const photos = [1000, 2000, 3000].map((t) => {
              const row: Partial<images.ImageRow> = imageRow(owner.id, { taken_at: NOW + t });
              for (const column of Object.keys(added)) delete row[column as keyof typeof added];
              return row;
            });
            await old.insertInto('images').values(photos).execute();

            expect(await migrateToLatest(opened.db)).toEqual(MIGRATION_NAMES.filter((name) => name >= '0004'));

            const listed = await images.listPage(opened.db, owner.id, 10, undefined);
            expect(listed).toEqual([...photos].reverse().map((photo) => ({ ...photo, ...added })));
            expect((await users.findUserById(opened.db, owner.id))?.storage_used_bytes).toBe(owner.storage_used_bytes);
            expect(await images.trashedBytes(opened.db, owner.id)).toBe(0);
          } finally {
            await opened.close();
          }
        } finally {
          await fresh.drop();
        }
      });

      it.runIf(dialect.name === 'sqlite')(
        'sqlite runs with WAL, synchronous=FULL, foreign keys and a busy timeout',
        async () => {
          const pragma = async (name: string): Promise<unknown> => {
            const { rows } = await sql<Record<string, unknown>>`pragma ${sql.raw(name)}`.execute(db);
            return Object.values(rows[0] ?? {})[0];
          };
          expect(await pragma('journal_mode')).toBe('wal');
          expect(await pragma('synchronous')).toBe(2); // FULL
          expect(await pragma('foreign_keys')).toBe(1);
          expect(await pragma('busy_timeout')).toBe(5000);
        },
      );

      it.runIf(dialect.name === 'mysql')(
        'mysql tables are InnoDB with utf8mb4 and a binary collation, whatever the server default',
        async () => {
          const { rows } = await sql<{ table_name: string; engine: string; table_collation: string }>`
            select table_name as table_name, engine as engine, table_collation as table_collation
            from information_schema.tables
            where table_schema = database() and table_name not like 'kysely%'`.execute(db);
          expect(rows.map((row) => row.table_name).sort()).toEqual([
            'album_images',
            'albums',
            'images',
            'jobs',
            'sessions',
            'share_images',
            'shares',
            'storage_event_days',
            'storage_events',
            'throttle_events',
            'throttle_scopes',
            'transfer_daily',
            'upload_parts',
            'uploads',
            'users',
          ]);
          for (const row of rows)
            expect([row.table_name, row.engine, row.table_collation]).toEqual([
              row.table_name,
              'InnoDB',
              'utf8mb4_bin',
            ]);
        },
      );

      it.runIf(dialect.name === 'mysql')('mysql transactions run at READ COMMITTED, as on postgres', async () => {
        const { rows } = await sql<{ level: string }>`select @@session.tx_isolation as level`
          .execute(db)
          .catch(() => sql<{ level: string }>`select @@session.transaction_isolation as level`.execute(db));
        expect(rows[0]?.level).toBe('READ-COMMITTED');
      });

      it('deleting a user removes its sessions and images (foreign keys cascade)', async () => {
        const user = await addUser(db);
        const image = imageRow(user.id);
        await images.insertImage(db, image);
        await sessions.insertSession(db, {
          id: randomUUID(),
          user_id: user.id,
          created_at: NOW,
          expires_at: NOW + DAY,
          revoked_at: null,
        });
        await users.deleteUser(db, user.id);
        expect(await images.findImageById(db, image.id)).toBeUndefined();
        const left = await db.selectFrom('sessions').select('id').where('user_id', '=', user.id).execute();
        expect(left).toEqual([]);
      });

      it('an image of an unknown owner is refused', async () => {
        await expect(images.insertImage(db, imageRow(randomUUID()))).rejects.toThrow();
      });

      it('a bad query is an error, not "database unavailable"', async () => {
        const error = await sql`select * from no_such_table`.execute(db).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(Error);
        expect(isDatabaseUnavailable(error)).toBe(false);
        expect(isUniqueViolation(error)).toBe(false);
      });
    });

    describe.skipIf(dialect.name === 'sqlite')('transactions', () => {
      const addOne = (trx: Executor, userId: string): Promise<unknown> =>
        trx
          .updateTable('users')
          .set((eb) => ({ storage_used_bytes: eb('storage_used_bytes', '+', 1) }))
          .where('id', '=', userId)
          .execute();

      it('the victim of a deadlock runs again, so both transactions commit', async () => {
        const [a, b] = [await addUser(db), await addUser(db)];
        let attempts = 0;
        let arrived = 0;
        let bothHoldOne!: () => void;
        const barrier = new Promise<void>((resolve) => (bothHoldOne = resolve));
        // Each locks one row, waits until the other holds the other row, then asks for it.
        const crossing = (first: string, second: string): Promise<void> =>
          inTransaction(db, async (trx) => {
            attempts += 1;
            await addOne(trx, first);
            if (++arrived === 2) bothHoldOne();
            await barrier;
            await addOne(trx, second);
          });
        await Promise.all([crossing(a.id, b.id), crossing(b.id, a.id)]);
        expect(attempts).toBe(3);
        const used = await db
          .selectFrom('users')
          .select('storage_used_bytes')
          .where('id', 'in', [a.id, b.id])
          .execute();
        expect(used.map((row) => Number(row.storage_used_bytes))).toEqual([2, 2]);
      });

      it('any other error ends the transaction at once, with nothing written', async () => {
        const user = await addUser(db);
        let attempts = 0;
        const error = await inTransaction(db, async (trx) => {
          attempts += 1;
          await addOne(trx, user.id);
          await users.insertUser(trx, userRow({ username_key: user.username_key }));
        }).catch((e: unknown) => e);
        expect(isUniqueViolation(error)).toBe(true);
        expect(attempts).toBe(1);
        expect((await users.findUserById(db, user.id))?.storage_used_bytes).toBe(0);
      });
    });

    describe('users', () => {
      it('finds a user by id and key, with every number as a number', async () => {
        const user = await addUser(db, {
          storage_quota_bytes: 5_000_000_000_000,
          daily_transfer_bytes: 0,
          storage_used_bytes: 4_294_967_297,
        });
        const byId = await users.findUserById(db, user.id);
        expect(byId).toEqual(user);
        expect(await users.findUserByKey(db, user.username_key)).toEqual(user);
        expect(await users.findUserByKey(db, 'nobody-has-this-name')).toBeUndefined();
      });

      it('two accounts with the same key fail with a unique violation', async () => {
        const first = await addUser(db, { username: 'Ana_Case', username_key: `ana_case_${dialect.name}` });
        const error = await users
          .insertUser(db, userRow({ username: 'ANA_CASE', username_key: first.username_key }))
          .catch((e: unknown) => e);
        expect(isUniqueViolation(error)).toBe(true);
        expect(isDatabaseUnavailable(error)).toBe(false);
      });

      it('concurrent inserts of one name: exactly one wins, the rest are unique violations', async () => {
        const key = `race_${randomUUID().slice(0, 8)}`;
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, (_, i) =>
            users.insertUser(db, userRow({ username: `${key}${i}`, username_key: key })),
          ),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
        expect(errors).toHaveLength(9);
        for (const error of errors) expect(isUniqueViolation(error)).toBe(true);
      });

      it('keys compare exactly: accents and case make different keys, as on every dialect', async () => {
        const plain = await addUser(db, { username_key: `jose_${dialect.name}` });
        const accented = await addUser(db, { username_key: `josé_${dialect.name}` });
        expect((await users.findUserByKey(db, plain.username_key))?.id).toBe(plain.id);
        expect((await users.findUserByKey(db, accented.username_key))?.id).toBe(accented.id);
        expect(await users.findUserByKey(db, plain.username_key.toUpperCase())).toBeUndefined();
      });

      it('lists users by key', async () => {
        const listed = await users.listUsers(db);
        const keys = listed.map((user) => user.username_key);
        expect(keys).toEqual([...keys].sort());
      });

      it('updates quotas and reports whether the user exists, also when nothing changes', async () => {
        const user = await addUser(db);
        expect(await users.updateQuotas(db, user.id, { storage_quota_bytes: 1000 })).toBe(true);
        expect(await users.updateQuotas(db, user.id, { storage_quota_bytes: 1000 })).toBe(true);
        expect(await users.updateQuotas(db, randomUUID(), { storage_quota_bytes: 1000 })).toBe(false);
        expect((await users.findUserById(db, user.id))?.storage_quota_bytes).toBe(1000);
        await users.updatePasswordHash(db, user.id, 'new-hash');
        expect((await users.findUserById(db, user.id))?.password_hash).toBe('new-hash');
      });

      it('reserves storage within the quota, refuses beyond it, and releases it', async () => {
        const user = await addUser(db, { storage_used_bytes: 900 });
        expect(await users.reserveStorage(db, user.id, 100, 1000)).toBe(true);
        expect(await users.reserveStorage(db, user.id, 1, 1000)).toBe(false);
        // Matched but unchanged still counts as done (MySQL would otherwise report 0 changed rows).
        expect(await users.reserveStorage(db, user.id, 0, 1000)).toBe(true);
        expect(await users.reserveStorage(db, user.id, 5_000_000_000, 0)).toBe(true);
        await users.releaseStorage(db, user.id, 5_000_000_000);
        await users.releaseStorage(db, user.id, 400);
        expect((await users.findUserById(db, user.id))?.storage_used_bytes).toBe(600);
        expect(await users.reserveStorage(db, randomUUID(), 1, 0)).toBe(false);
      });

      it('50 concurrent uploads racing for the last bytes of a quota never overshoot, and the counter is exact', async () => {
        const quota = 1_000_000;
        const start = quota - 1000;
        const user = await addUser(db, { storage_used_bytes: start });
        const results = await Promise.allSettled(
          RACE_SIZES.map((bytes, i) =>
            inTransaction(db, async (trx) => {
              if (!(await users.reserveStorage(trx, user.id, bytes, quota))) return false;
              await appendEvents(trx, [
                {
                  at: NOW,
                  user_id: user.id,
                  image_id: null,
                  operation: 'upload',
                  object_key: `k${i}`,
                  bytes,
                  status: 201,
                },
              ]);
              // Every seventh fails after reserving (say, a failed insert): its bytes must not count.
              if (i % 7 === 6) throw new RolledBack();
              return true;
            }),
          ),
        );
        const { accepted, rejected } = outcomes(results);
        const used = (await users.findUserById(db, user.id))!.storage_used_bytes;
        expect(sum(accepted)).toBeLessThanOrEqual(1000);
        expect(used).toBe(start + sum(accepted));
        expect(rejected.length).toBeGreaterThan(0);
        // Usage only grows during the race, so whatever was refused does not fit at the end either.
        for (const bytes of rejected) expect(used + bytes).toBeGreaterThan(quota);
        expect((await sumEvents(db, user.id, 0)).upload).toBe(sum(accepted));
      });
    });

    describe('sessions', () => {
      it('an active session authenticates; a revoked or expired one does not', async () => {
        const user = await addUser(db, { role: 'admin' });
        const active = { id: randomUUID(), user_id: user.id, created_at: NOW, expires_at: NOW + DAY, revoked_at: null };
        const revoked = { ...active, id: randomUUID() };
        const expired = { ...active, id: randomUUID(), expires_at: NOW };
        for (const session of [active, revoked, expired]) await sessions.insertSession(db, session);
        await sessions.revokeSession(db, revoked.id, NOW);

        expect(await sessions.findActiveSession(db, active.id, NOW)).toEqual({
          sessionId: active.id,
          userId: user.id,
          username: user.username,
          role: 'admin',
        });
        expect(await sessions.findActiveSession(db, revoked.id, NOW)).toBeUndefined();
        expect(await sessions.findActiveSession(db, expired.id, NOW)).toBeUndefined();
        expect(await sessions.findActiveSession(db, randomUUID(), NOW)).toBeUndefined();
      });

      it('revoking all sessions of a user keeps the one asked for', async () => {
        const user = await addUser(db);
        const ids = [randomUUID(), randomUUID(), randomUUID()];
        for (const id of ids) {
          await sessions.insertSession(db, {
            id,
            user_id: user.id,
            created_at: NOW,
            expires_at: NOW + DAY,
            revoked_at: null,
          });
        }
        await sessions.revokeUserSessions(db, user.id, NOW, ids[0]);
        expect(await sessions.findActiveSession(db, ids[0]!, NOW)).toBeDefined();
        expect(await sessions.findActiveSession(db, ids[1]!, NOW)).toBeUndefined();
        expect(await sessions.findActiveSession(db, ids[2]!, NOW)).toBeUndefined();
      });

      it('prunes sessions that ended more than a day ago', async () => {
        const user = await addUser(db);
        const old = {
          id: randomUUID(),
          user_id: user.id,
          created_at: NOW - 3 * DAY,
          expires_at: NOW - 2 * DAY,
          revoked_at: null,
        };
        const recent = { ...old, id: randomUUID(), expires_at: NOW - DAY / 2 };
        await sessions.insertSession(db, old);
        await sessions.insertSession(db, recent);
        await sessions.pruneSessions(db, NOW);
        const left = await db.selectFrom('sessions').select('id').where('user_id', '=', user.id).execute();
        expect(left.map((row) => row.id)).toEqual([recent.id]);
      });
    });

    describe('images', () => {
      it('pages a gallery newest taken first, ties by id, with a cursor that neither skips nor repeats', async () => {
        const owner = await addUser(db);
        const other = await addUser(db);
        const taken = [5000, 4000, 4000, 4000, 4000, 3000, 2000, 2000, 1000];
        const rows = taken.map((t) => imageRow(owner.id, { taken_at: NOW + t }));
        for (const row of rows) {
          await images.insertImage(db, row);
          await images.insertImage(db, imageRow(other.id, { taken_at: row.taken_at }));
        }
        const expected = [...rows]
          .sort((a, b) => b.taken_at - a.taken_at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
          .map((row) => row.id);

        const seen: string[] = [];
        let cursor: images.PageCursor | undefined;
        for (;;) {
          const page = await images.listPage(db, owner.id, 2, cursor);
          seen.push(...page.map((row) => row.id));
          const last = page[page.length - 1];
          if (page.length < 2 || !last) break;
          cursor = { takenAt: last.taken_at, id: last.id };
        }
        expect(seen).toEqual(expected);
        expect(await images.listAllOfOwner(db, owner.id)).toHaveLength(rows.length);
      });

      it('round-trips every column exactly, large sizes and long non-ASCII names included', async () => {
        const owner = await addUser(db);
        const row = imageRow(owner.id, {
          filename: `${'😀'.repeat(120)}.jpg`,
          original_bytes: 6_000_000_000,
          width: 100_000,
          height: 1,
          orientation: 8,
          taken_at: Date.UTC(1999, 11, 31),
        });
        const accented = imageRow(owner.id, { filename: 'é'.repeat(255), media_type: 'image/heic' });
        await images.insertImage(db, row);
        await images.insertImage(db, accented);
        expect(await images.findOwnedImage(db, owner.id, row.id)).toEqual(row);
        expect(await images.findImageById(db, accented.id)).toEqual(accented);
        expect(await images.findBySha256(db, owner.id, row.sha256)).toEqual(row);
        expect(await images.prefixExists(db, row.object_prefix)).toBe(true);
        expect(await images.prefixExists(db, `${owner.id}/${randomUUID()}/`)).toBe(false);
      });

      it("another owner's image is invisible and cannot be deleted", async () => {
        const owner = await addUser(db);
        const intruder = await addUser(db);
        const row = imageRow(owner.id);
        await images.insertImage(db, row);
        expect(await images.findOwnedImage(db, intruder.id, row.id)).toBeUndefined();
        expect(await images.findBySha256(db, intruder.id, row.sha256)).toBeUndefined();
        expect(await images.listPage(db, intruder.id, 10, undefined)).toEqual([]);
        expect(await images.deleteImageRow(db, intruder.id, row.id)).toBe(false);
        expect(await images.findImageById(db, row.id)).toBeDefined();
        expect(await images.deleteImageRow(db, owner.id, row.id)).toBe(true);
        expect(await images.findImageById(db, row.id)).toBeUndefined();
        expect(await images.deleteImageRow(db, owner.id, row.id)).toBe(false);
      });

      it('the same bytes twice in one account is a unique violation; in another account it is fine', async () => {
        const owner = await addUser(db);
        const other = await addUser(db);
        const row = imageRow(owner.id);
        await images.insertImage(db, row);
        const error = await images.insertImage(db, imageRow(owner.id, { sha256: row.sha256 })).catch((e: unknown) => e);
        expect(isUniqueViolation(error)).toBe(true);
        await images.insertImage(db, imageRow(other.id, { sha256: row.sha256 }));
        expect((await images.findBySha256(db, other.id, row.sha256))?.owner_id).toBe(other.id);
      });
    });

    describe('trash', () => {
      it('the gallery and favourites leave the trash out; the trash pages by when photos were trashed', async () => {
        const owner = await addUser(db);
        const rows = [1, 2, 3, 4].map((t) => imageRow(owner.id, { taken_at: NOW + t * 1000 }));
        for (const row of rows) await images.insertImage(db, row);
        expect(await images.setFavorite(db, owner.id, rows[0]!.id, true)).toBe(true);
        expect(await images.setFavorite(db, owner.id, rows[1]!.id, true)).toBe(true);
        expect(await images.trashImage(db, owner.id, rows[1]!.id, NOW + 10)).toBe(true);
        expect(await images.trashImage(db, owner.id, rows[2]!.id, NOW + 20)).toBe(true);
        expect(await images.trashImage(db, owner.id, rows[2]!.id, NOW + 30)).toBe(false);

        const live = await images.listPage(db, owner.id, 10, undefined);
        expect(live.map((row) => row.id)).toEqual([rows[3]!.id, rows[0]!.id]);
        const favourites = await images.listPage(db, owner.id, 10, undefined, { favorite: true });
        expect(favourites.map((row) => row.id)).toEqual([rows[0]!.id]);
        const trash = await images.listTrashPage(db, owner.id, 1, undefined);
        expect(trash.map((row) => [row.id, row.trashed_at])).toEqual([[rows[2]!.id, NOW + 20]]);
        const next = await images.listTrashPage(db, owner.id, 5, { trashedAt: NOW + 20, id: rows[2]!.id });
        expect(next.map((row) => row.id)).toEqual([rows[1]!.id]);
        expect(await images.trashedBytes(db, owner.id)).toBe(2 * images.storedBytes(rows[0]!));
        expect(await images.restoreImages(db, owner.id, [rows[1]!.id, rows[3]!.id])).toBe(1);
        expect((await images.findOwnedImage(db, owner.id, rows[1]!.id))?.favorite).toBe(1);
      });

      it.runIf(dialect.name !== 'sqlite')(
        '10 purges racing for one expired photo: exactly one deletes it and frees its storage once',
        async () => {
          const owner = await addUser(db);
          const row = imageRow(owner.id, { trashed_at: NOW });
          await images.insertImage(db, row);
          await users.reserveStorage(db, owner.id, images.storedBytes(row), 0);
          const results = await Promise.all(
            Array.from({ length: 10 }, () =>
              inTransaction(db, async (trx) => {
                if (!(await images.deleteImageRow(trx, owner.id, row.id, { trashedUpTo: NOW }))) return false;
                await users.releaseStorage(trx, owner.id, images.storedBytes(row));
                return true;
              }),
            ),
          );
          expect(results.filter(Boolean)).toHaveLength(1);
          expect((await users.findUserById(db, owner.id))?.storage_used_bytes).toBe(0);
        },
      );

      it('a restored photo, or one trashed after the cutoff, is not purged', async () => {
        const owner = await addUser(db);
        const late = imageRow(owner.id, { trashed_at: NOW + 1 });
        const live = imageRow(owner.id);
        await images.insertImage(db, late);
        await images.insertImage(db, live);
        expect(await images.deleteImageRow(db, owner.id, late.id, { trashedUpTo: NOW })).toBe(false);
        expect(await images.deleteImageRow(db, owner.id, live.id, { trashedOnly: true })).toBe(false);
        expect((await images.listTrashed(db, owner.id, NOW, 10)).map((r) => r.id)).toEqual([]);
        expect((await images.listTrashed(db, owner.id, NOW + 1, 10)).map((r) => r.id)).toEqual([late.id]);
      });
    });

    describe('albums', () => {
      async function albumOf(ownerId: string): Promise<albums.AlbumRow> {
        const row = {
          id: randomUUID(),
          owner_id: ownerId,
          title: 'Été 2024 😀',
          description: 'd'.repeat(2000),
          cover_image_id: null,
          created_at: NOW,
          updated_at: NOW,
          activity_at: NOW,
        };
        await albums.insertAlbum(db, row);
        return row;
      }

      it('round-trips an album; memberships page like the gallery and leave trashed photos out', async () => {
        const owner = await addUser(db);
        const album = await albumOf(owner.id);
        expect(await albums.findOwnedAlbum(db, owner.id, album.id)).toEqual(album);
        const taken = [5000, 4000, 4000, 4000, 3000, 1000];
        const rows = taken.map((t) => imageRow(owner.id, { taken_at: NOW + t }));
        for (const row of rows) await images.insertImage(db, row);
        await albums.addMembers(db, dialect.name, album.id, rows, NOW);
        await images.trashImage(db, owner.id, rows[5]!.id, NOW);
        const expected = rows
          .slice(0, 5)
          .sort((a, b) => b.taken_at - a.taken_at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
          .map((row) => row.id);

        const seen: string[] = [];
        let cursor: images.PageCursor | undefined;
        for (;;) {
          const page = await albums.listAlbumPage(db, album.id, 2, cursor);
          seen.push(...page.map((row) => row.id));
          const last = page[page.length - 1];
          if (page.length < 2 || !last) break;
          cursor = { takenAt: last.taken_at, id: last.id };
        }
        expect(seen).toEqual(expected);
        expect((await albums.albumStats(db, [album.id])).get(album.id)).toEqual({
          count: 5,
          firstTakenAt: NOW + 3000,
          lastTakenAt: NOW + 5000,
        });
        expect(await albums.newestImageId(db, album.id)).toBe(rows[0]!.id);
      });

      it('adding the same photos from 10 requests at once holds each once, on every dialect', async () => {
        const owner = await addUser(db);
        const album = await albumOf(owner.id);
        const rows = [1, 2, 3].map((t) => imageRow(owner.id, { taken_at: NOW + t }));
        for (const row of rows) await images.insertImage(db, row);

        await Promise.all(
          Array.from({ length: 10 }, () =>
            inTransaction(db, (trx) => albums.addMembers(trx, dialect.name, album.id, rows, NOW)),
          ),
        );

        const members = await albums.membersAmong(
          db,
          album.id,
          rows.map((row) => row.id),
        );
        expect(members.size).toBe(3);
        expect((await albums.albumStats(db, [album.id])).get(album.id)?.count).toBe(3);
        const byImage = await albums.albumIdsOfImages(db, [rows[0]!.id, randomUUID()]);
        expect([...byImage.entries()]).toEqual([[rows[0]!.id, [album.id]]]);
      });

      it("another owner's album is invisible and cannot be deleted; deleting one keeps its photos", async () => {
        const owner = await addUser(db);
        const intruder = await addUser(db);
        const album = await albumOf(owner.id);
        const row = imageRow(owner.id);
        await images.insertImage(db, row);
        await albums.addMembers(db, dialect.name, album.id, [row], NOW);

        expect(await albums.findOwnedAlbum(db, intruder.id, album.id)).toBeUndefined();
        expect(await albums.deleteAlbum(db, intruder.id, album.id)).toBe(false);
        expect((await albums.albumStats(db, [album.id])).get(album.id)?.count).toBe(1);
        expect(await albums.deleteAlbum(db, owner.id, album.id)).toBe(true);
        expect(await albums.albumIdsOfImages(db, [row.id])).toEqual(new Map());
        expect(await images.findImageById(db, row.id)).toBeDefined();
      });

      it('deleting a user removes its albums and their memberships (foreign keys cascade)', async () => {
        const owner = await addUser(db);
        const album = await albumOf(owner.id);
        const row = imageRow(owner.id);
        await images.insertImage(db, row);
        await albums.addMembers(db, dialect.name, album.id, [row], NOW);

        await users.deleteUser(db, owner.id);

        expect(await albums.findOwnedAlbum(db, owner.id, album.id)).toBeUndefined();
        const left = await db.selectFrom('album_images').select('image_id').where('album_id', '=', album.id).execute();
        expect(left).toEqual([]);
      });

      it('deleting a photo for good takes its memberships and resets a cover that was it', async () => {
        const owner = await addUser(db);
        const album = await albumOf(owner.id);
        const row = imageRow(owner.id);
        await images.insertImage(db, row);
        await albums.addMembers(db, dialect.name, album.id, [row], NOW);
        await albums.updateAlbum(db, album.id, { cover_image_id: row.id });

        expect(await images.deleteImageRow(db, owner.id, row.id)).toBe(true);

        expect((await albums.findOwnedAlbum(db, owner.id, album.id))?.cover_image_id).toBeNull();
        expect(await albums.membersAmong(db, album.id, [row.id])).toEqual(new Set());
      });
    });

    describe('transfer', () => {
      it('counts both directions per day and leaves other days alone', async () => {
        const user = await addUser(db);
        expect(await transferOfDay(db, user.id, '2026-11-28')).toEqual({ bytesIn: 0, bytesOut: 0, bytesReserved: 0 });
        expect(await reserveTransfer(db, dialect.name, user.id, '2026-11-28', 'in', 600, 1000)).toBe(true);
        expect(await reserveTransfer(db, dialect.name, user.id, '2026-11-28', 'out', 400, 1000)).toBe(true);
        expect(await reserveTransfer(db, dialect.name, user.id, '2026-11-28', 'out', 1, 1000)).toBe(false);
        expect(await reserveTransfer(db, dialect.name, user.id, '2026-11-28', 'in', 0, 1000)).toBe(true);
        expect(await reserveTransfer(db, dialect.name, user.id, '2026-11-28', 'out', 7_000_000_000, 0)).toBe(true);
        expect(await reserveTransfer(db, dialect.name, user.id, '2026-11-29', 'in', 1000, 1000)).toBe(true);
        expect(await transferOfDay(db, user.id, '2026-11-28')).toEqual({
          bytesIn: 600,
          bytesOut: 7_000_000_400,
          bytesReserved: 0,
        });
        expect(await transferOfDay(db, user.id, '2026-11-29')).toEqual({
          bytesIn: 1000,
          bytesOut: 0,
          bytesReserved: 0,
        });
      });

      it('50 concurrent transfers both ways on a new day never overshoot the quota, and the counters are exact', async () => {
        const quota = 1000;
        const user = await addUser(db);
        const day = '2026-12-01';
        const direction = (i: number): Direction => (i % 2 === 0 ? 'in' : 'out');
        const results = await Promise.allSettled(
          RACE_SIZES.map((bytes, i) =>
            inTransaction(db, async (trx) => {
              if (!(await reserveTransfer(trx, dialect.name, user.id, day, direction(i), bytes, quota))) return false;
              if (i % 7 === 6) throw new RolledBack();
              return true;
            }),
          ),
        );
        const { accepted } = outcomes(results);
        const acceptedIn = RACE_SIZES.filter((bytes, i) => direction(i) === 'in' && isTrue(results[i]));
        const acceptedOut = RACE_SIZES.filter((bytes, i) => direction(i) === 'out' && isTrue(results[i]));
        const totals = await transferOfDay(db, user.id, day);
        expect(totals).toEqual({ bytesIn: sum(acceptedIn), bytesOut: sum(acceptedOut), bytesReserved: 0 });
        const used = totals.bytesIn + totals.bytesOut;
        expect(used).toBe(sum(accepted));
        expect(used).toBeLessThanOrEqual(quota);
        const rejected = RACE_SIZES.filter((_, i) => isFalse(results[i]));
        expect(rejected.length).toBeGreaterThan(0);
        for (const bytes of rejected) expect(used + bytes).toBeGreaterThan(quota);
      });
    });

    describe('storage events', () => {
      it('sums successful events per operation since a time, as numbers', async () => {
        const user = await addUser(db);
        const event = { user_id: user.id, image_id: null, object_key: 'k' };
        await appendEvents(db, []);
        await appendEvents(db, [
          { ...event, at: NOW, operation: 'upload', bytes: 6_000_000_000, status: 201 },
          { ...event, at: NOW + 1, operation: 'upload', bytes: 5_000_000_001, status: 200 },
          { ...event, at: NOW, operation: 'download', bytes: 30, status: 200 },
          { ...event, at: NOW, operation: 'download', bytes: 20, status: 206 },
          { ...event, at: NOW, operation: 'download', bytes: 999, status: 404 },
          { ...event, at: NOW - 1, operation: 'delete', bytes: 77, status: 204 },
          { ...event, at: NOW, operation: 'delete', bytes: 10, status: 204 },
        ]);
        await appendEvents(db, [
          {
            user_id: randomUUID(),
            image_id: null,
            object_key: 'k',
            at: NOW,
            operation: 'upload',
            bytes: 5,
            status: 201,
          },
        ]);
        expect(await sumEvents(db, user.id, NOW)).toEqual({ upload: 11_000_000_001, download: 50, delete: 10 });
        expect(await sumEvents(db, user.id, NOW - 1)).toEqual({ upload: 11_000_000_001, download: 50, delete: 87 });
        expect(await sumEvents(db, randomUUID(), 0)).toEqual({ upload: 0, download: 0, delete: 0 });
      });
    });

    describe('throttle events', () => {
      it('records, lists oldest first since a time, clears and prunes events by scope', async () => {
        const scope = `pair:${randomUUID()}|2001:db8::1`;
        // The longest scope a login can produce: a 64-character name that lower-cases to more, and an IPv6 address.
        const long = `pair:${'İ'.repeat(64).toLowerCase()}|ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255`;
        await throttleEvents.recordEvents(db, [scope, long], NOW + 2);
        await throttleEvents.recordEvents(db, [scope], NOW);
        await throttleEvents.recordEvents(db, [scope], NOW - 1000);
        expect(await throttleEvents.eventTimes(db, scope, NOW - 500)).toEqual([NOW, NOW + 2]);
        expect(await throttleEvents.eventTimes(db, long, 0)).toEqual([NOW + 2]);
        await throttleEvents.pruneEvents(db, NOW);
        expect(await throttleEvents.eventTimes(db, scope, 0)).toEqual([NOW, NOW + 2]);
        await throttleEvents.clearEvents(db, scope);
        expect(await throttleEvents.eventTimes(db, scope, 0)).toEqual([]);
        expect(await throttleEvents.eventTimes(db, long, 0)).toEqual([NOW + 2]);
      });
    });

    describe('jobs', () => {
      it('10 workers claiming one due job at once: exactly one takes it, on every dialect', async () => {
        const kind = `k${randomUUID().slice(0, 8)}`;
        const id = await jobs.enqueueJob(db, kind, { n: 1 }, NOW);

        const taken = await Promise.all(
          Array.from({ length: 10 }, (_, i) => jobs.takeJob(db, `worker-${i}`, NOW + 1, 60_000, [kind])),
        );

        const winners = taken.filter((job) => job !== undefined);
        expect(winners).toHaveLength(1);
        expect(winners[0]).toMatchObject({ id, state: 'running', attempts: 1, locked_until: NOW + 1 + 60_000 });
      });

      it('a job whose lease ended is taken by another worker; the first can no longer finish it', async () => {
        const kind = `k${randomUUID().slice(0, 8)}`;
        const id = await jobs.enqueueJob(db, kind, {}, NOW);
        expect(await jobs.takeJob(db, 'dead-worker', NOW, 1000, [kind])).toMatchObject({ id });
        expect(await jobs.takeJob(db, 'other', NOW + 500, 1000, [kind])).toBeUndefined();

        const again = await jobs.takeJob(db, 'other', NOW + 1001, 1000, [kind]);

        expect(again).toMatchObject({ id, locked_by: 'other', attempts: 2 });
        expect(await jobs.finishJob(db, id, 'dead-worker', NOW + 1002, { state: 'done' })).toBe(false);
        expect(await jobs.finishJob(db, id, 'other', NOW + 1002, { state: 'done' })).toBe(true);
      });

      it('pruning removes finished jobs older than the cutoff; dead, queued and recent ones stay', async () => {
        const kind = `k${randomUUID().slice(0, 8)}`;
        const finish = async (at: number, outcome: Parameters<typeof jobs.finishJob>[4]) => {
          const id = await jobs.enqueueJob(db, kind, { at }, at);
          expect(await jobs.takeJob(db, 'w', at, 1000, [kind])).toMatchObject({ id });
          await jobs.finishJob(db, id, 'w', at, outcome);
          return id;
        };
        const oldDone = await finish(NOW - 10 * DAY, { state: 'done' });
        const oldDead = await finish(NOW - 9 * DAY, { state: 'dead', error: 'ffmpeg exited with 1' });
        const recentDone = await finish(NOW - DAY, { state: 'done' });
        const queued = await jobs.enqueueJob(db, kind, {}, NOW - 20 * DAY);

        expect(await jobs.pruneDoneJobs(db, NOW - 7 * DAY)).toBeGreaterThanOrEqual(1);

        expect(await jobs.findJob(db, oldDone)).toBeUndefined();
        for (const id of [oldDead, recentDone, queued]) expect(await jobs.findJob(db, id)).toBeDefined();
      });
    });

    describe.skipIf(dialect.name === 'sqlite')('connection failures', () => {
      it('a pool with every connection busy fails fast as unavailable instead of queueing forever', async () => {
        const small = await openDatabase(database.url, { poolSize: 1, connectTimeoutMs: 300 });
        let release = (): void => undefined;
        const held = new Promise<void>((resolve) => (release = resolve));
        try {
          const holder = small.db.connection().execute(() => held);
          await new Promise((resolve) => setTimeout(resolve, 50));
          const error = await sql`select 1`.execute(small.db).catch((e: unknown) => e);
          expect(error).toBeInstanceOf(Error);
          expect(isDatabaseUnavailable(error)).toBe(true);
          release();
          await holder;
          await sql`select 1`.execute(small.db);
        } finally {
          release();
          await small.close();
        }
      });

      it('a connection the server kills is replaced, and the process survives it', async () => {
        const idleErrors: Error[] = [];
        const victim = await openDatabase(database.url, {
          poolSize: 2,
          onIdleError: (error) => idleErrors.push(error),
        });
        try {
          const id = await backendId(victim.db, dialect.name);
          await killBackend(db, dialect.name, id);
          await new Promise((resolve) => setTimeout(resolve, 200));
          // The dead connection is either dropped already or fails as unavailable (how often depends on
          // when the driver notices the reset); within a few tries a fresh connection answers.
          let answer: unknown;
          for (let attempt = 0; attempt < 5; attempt++) {
            answer = await sql<{ one: number }>`select 1 as one`.execute(victim.db).catch((e: unknown) => e);
            if (!(answer instanceof Error)) break;
            expect(isDatabaseUnavailable(answer)).toBe(true);
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
          expect(Number((answer as { rows: { one: number }[] }).rows[0]?.one)).toBe(1);
          expect(await backendId(victim.db, dialect.name)).not.toBe(id);
        } finally {
          await victim.close();
        }
      });

      it('a connection killed while a transaction holds it fails that transaction as unavailable; the process survives', async () => {
        const victim = await openDatabase(database.url, { poolSize: 1 });
        try {
          let killed = -1;
          const error = await inTransaction(victim.db, async (trx) => {
            killed = await backendId(trx, dialect.name);
            await killBackend(db, dialect.name, killed);
            // The driver sees the connection end while no query of its own is running on it.
            await new Promise((resolve) => setTimeout(resolve, 300));
            await sql`select 1`.execute(trx);
          }).catch((e: unknown) => e);
          expect(error).toBeInstanceOf(Error);
          expect(isDatabaseUnavailable(error)).toBe(true);
          expect(await backendId(victim.db, dialect.name)).not.toBe(killed);
        } finally {
          await victim.close();
        }
      });
    });
  });
}

const isTrue = (result: PromiseSettledResult<boolean> | undefined): boolean =>
  result?.status === 'fulfilled' && result.value;
const isFalse = (result: PromiseSettledResult<boolean> | undefined): boolean =>
  result?.status === 'fulfilled' && !result.value;

/** The server's id of the connection `db` runs on (a transaction's, or any of the pool's). */
async function backendId(db: Executor, dialect: Database['dialect']): Promise<number> {
  const query =
    dialect === 'mysql'
      ? sql<{ id: number }>`select connection_id() as id`
      : sql<{ id: number }>`select pg_backend_pid() as id`;
  const { rows } = await query.execute(db);
  return Number(rows[0]?.id);
}

async function killBackend(db: Executor, dialect: Database['dialect'], id: number): Promise<void> {
  if (dialect === 'mysql') await sql`kill ${sql.lit(id)}`.execute(db);
  else await sql`select pg_terminate_backend(${id})`.execute(db);
}

/** A local TCP server that behaves like a broken database server. */
async function fakeServer(
  onConnection: (socket: net.Socket) => void,
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('an unreachable database is reported as unavailable (503), not as a bug (500)', () => {
  const cases = [
    ['mysql', (port: number) => `mysql://root@127.0.0.1:${port}/pixa`],
    ['postgres', (port: number) => `postgres://postgres@127.0.0.1:${port}/pixa`],
  ] as const;

  for (const [name, urlOf] of cases) {
    async function failureOf(port: number): Promise<unknown> {
      const database = await openDatabase(urlOf(port), { connectTimeoutMs: 300 });
      try {
        return await sql`select 1`.execute(database.db).then(
          () => new Error('the query unexpectedly succeeded'),
          (error: unknown) => error,
        );
      } finally {
        await database.close();
      }
    }

    it(`${name}: nothing listening (127.0.0.1:1) is refused at once and classified as unavailable`, async () => {
      const error = await failureOf(1);
      expect(error).toMatchObject({ code: 'ECONNREFUSED' });
      expect(isDatabaseUnavailable(error)).toBe(true);
    });

    it(`${name}: a server that accepts and never answers times out as unavailable`, async () => {
      const server = await fakeServer(() => undefined);
      try {
        expect(isDatabaseUnavailable(await failureOf(server.port))).toBe(true);
      } finally {
        await server.close();
      }
    });

    it(`${name}: a server that hangs up at once (connection lost / terminated) is unavailable`, async () => {
      const server = await fakeServer((socket) => socket.destroy());
      try {
        const error = await failureOf(server.port);
        expect(error).toBeInstanceOf(Error);
        expect(isDatabaseUnavailable(error)).toBe(true);
      } finally {
        await server.close();
      }
    });
  }

  it('recognises the errors drivers raise for a lost or overloaded server, and nothing else', () => {
    const unavailable = [
      Object.assign(new Error('Connection lost: The server closed the connection.'), {
        code: 'PROTOCOL_CONNECTION_LOST',
      }),
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
      Object.assign(new Error('the database system is starting up'), { code: '57P03' }),
      Object.assign(
        new AggregateError([Object.assign(new Error('connect ECONNREFUSED ::1:5432'), { code: 'ECONNREFUSED' })]),
        {},
      ),
      Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }),
    ];
    for (const error of unavailable) expect(isDatabaseUnavailable(error), error.message).toBe(true);
    const bugs = [
      new Error('syntax error'),
      Object.assign(new Error('duplicate key'), { code: '23505' }),
      Object.assign(new Error('Duplicate entry'), { code: 'ER_DUP_ENTRY' }),
      'a string',
      undefined,
      null,
    ];
    for (const error of bugs) expect(isDatabaseUnavailable(error)).toBe(false);
  });
});
