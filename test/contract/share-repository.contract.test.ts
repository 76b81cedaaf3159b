import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Database } from '../../src/db/database.js';
import { isUniqueViolation } from '../../src/db/database.js';
import * as users from '../../src/modules/auth/user.repository.js';
import * as images from '../../src/modules/images/image.repository.js';
import * as shares from '../../src/modules/shares/share.repository.js';
import { DIALECTS, announceSkip, openMigratedDatabase, type MigratedDatabase } from '../helpers/databases.js';
import { imageRow, userRow } from '../helpers/rows.js';

const NOW = Date.UTC(2026, 10, 29, 12, 0, 0);

for (const dialect of DIALECTS) {
  announceSkip('share repository contract', dialect);

  describe.skipIf(dialect.skipReason !== undefined)(`${dialect.name} share repository`, () => {
    let database: MigratedDatabase;
    let db: Database['db'];

    beforeAll(async () => {
      database = await openMigratedDatabase(dialect);
      db = database.db;
    });
    afterAll(() => database?.close());

    async function owner(): Promise<string> {
      const row = userRow({ created_at: NOW });
      await users.insertUser(db, row);
      return row.id;
    }

    async function image(ownerId: string, takenAt: number): Promise<string> {
      const id = randomUUID();
      await images.insertImage(
        db,
        imageRow(ownerId, {
          id,
          filename: 'IMG.jpg',
          original_bytes: 1000,
          thumbnail_bytes: 10,
          preview_bytes: 100,
          width: 10,
          height: 10,
          taken_at: takenAt,
          uploaded_at: NOW,
        }),
      );
      return id;
    }

    function shareRow(ownerId: string, overrides: Partial<shares.ShareRow> = {}): shares.ShareRow {
      return {
        id: randomUUID(),
        owner_id: ownerId,
        key_hash: randomUUID().replace(/-/g, '').repeat(2),
        album_id: null,
        title: null,
        description: null,
        created_at: NOW,
        expires_at: null,
        revoked_at: null,
        password_hash: null,
        allow_download: 1,
        show_metadata: 0,
        show_owner: 0,
        view_count: 0,
        last_access_at: null,
        ...overrides,
      };
    }

    it('a link round-trips by its key hash, with numbers as numbers; a second link with the same hash is refused', async () => {
      const userId = await owner();
      const row = shareRow(userId, { expires_at: NOW + 1000, title: 'Été' });
      await shares.insertShare(db, row, []);

      expect(await shares.findShareByKeyHash(db, row.key_hash)).toEqual(row);
      const duplicate = shares.insertShare(db, shareRow(userId, { key_hash: row.key_hash }), []);
      await expect(duplicate).rejects.toSatisfy(isUniqueViolation);
    });

    it('photos page newest taken first by keyset; counts, visits and revocation are kept', async () => {
      const userId = await owner();
      const ids = [await image(userId, NOW - 3), await image(userId, NOW - 1), await image(userId, NOW - 2)];
      const row = shareRow(userId);
      await shares.insertShare(db, row, ids);

      const first = await shares.listSharedImages(db, row, 2, undefined);
      const last = first[first.length - 1]!;
      const second = await shares.listSharedImages(db, row, 2, { takenAt: last.taken_at, id: last.id });
      expect([...first, ...second].map((r) => r.id)).toEqual([ids[1], ids[2], ids[0]]);
      expect(first[0]!.taken_at).toBe(NOW - 1);

      await shares.recordVisit(db, row.id, NOW + 5);
      await shares.recordVisit(db, row.id, NOW + 6);
      const [listed] = await shares.listOwnedShares(db, userId);
      expect(listed).toMatchObject({ id: row.id, image_count: 3, view_count: 2, last_access_at: NOW + 6 });

      expect(await shares.revokeShare(db, userId, row.id, NOW + 7)).toBe(true);
      expect(await shares.revokeShare(db, userId, row.id, NOW + 8)).toBe(false);
      expect(await shares.listOwnedShares(db, userId)).toEqual([]);
    });

    it('a deleted photo leaves its links (foreign key cascade); another owner cannot change a link', async () => {
      const userId = await owner();
      const other = await owner();
      const [kept, gone] = [await image(userId, NOW), await image(userId, NOW)];
      const row = shareRow(userId);
      await shares.insertShare(db, row, [kept, gone]);

      await images.deleteImageRow(db, userId, gone);

      expect((await shares.findOwnedShare(db, userId, row.id))?.image_count).toBe(1);
      expect(await shares.findSharedImage(db, row, gone)).toBeUndefined();
      expect(await shares.updateShare(db, other, row.id, { allow_download: 0 })).toBe(false);
      expect(await shares.revokeShare(db, other, row.id, NOW)).toBe(false);
      expect((await shares.findOwnedImages(db, other, [kept])).length).toBe(0);
    });
  });
}
