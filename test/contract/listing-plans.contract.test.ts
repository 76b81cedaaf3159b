import { randomUUID } from 'node:crypto';

import { CompiledQuery, sql, type Kysely, type QueryId, type RootOperationNode } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { DialectName } from '../../src/db/database.js';
import type { DB } from '../../src/db/tables.js';
import * as albums from '../../src/modules/albums/album.repository.js';
import * as images from '../../src/modules/images/image.repository.js';
import * as users from '../../src/modules/auth/user.repository.js';
import { DIALECTS, announceSkip, openMigratedDatabase, type MigratedDatabase } from '../helpers/databases.js';
import { imageRow, userRow } from '../helpers/rows.js';

const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);
/** Enough photos in one library that reading all of them and sorting is the plan a database would pick. */
const LIBRARY = 3_000;
const PAGE = 101;

/**
 * The plan the database makes for the one query `run` sends, as text: captured from what Kysely
 * builds (not restated here), then EXPLAINed in each dialect's own words.
 */
async function planOf(
  db: Kysely<DB>,
  dialect: DialectName,
  run: (db: Kysely<DB>) => Promise<unknown>,
): Promise<string> {
  let captured: { node: RootOperationNode; queryId: QueryId } | undefined;
  const capture = db.withPlugin({
    transformQuery: (args) => {
      captured ??= args;
      return args.node;
    },
    transformResult: async (args) => args.result,
  });
  await run(capture);
  if (!captured) throw new Error('the listing sent no query');
  const compiled = db.getExecutor().compileQuery(captured.node, captured.queryId);
  const explain = dialect === 'sqlite' ? 'explain query plan' : 'explain';
  const plan = await db.executeQuery<Record<string, unknown>>(
    CompiledQuery.raw(`${explain} ${compiled.sql}`, [...compiled.parameters]),
  );
  return plan.rows.map((step) => Object.values(step).join(' ')).join('\n');
}

/**
 * Whether a plan sorts all the rows it read, in each dialect's words. PostgreSQL's Incremental Sort
 * is not that: it reads rows already in order of the first key and sorts only ties of it (the trash,
 * by when photos were trashed, then by id).
 */
function sorts(dialect: DialectName, plan: string): boolean {
  if (dialect === 'sqlite') return /USE TEMP B-TREE FOR .*ORDER BY/.test(plan);
  if (dialect === 'mysql') return /Using filesort/i.test(plan);
  return /(^|->)\s*Sort\s+\(/m.test(plan);
}

for (const dialect of DIALECTS) {
  announceSkip('listing plans', dialect);

  // A page of the gallery, of favourites, of an album or of the trash is read from its index in order,
  // on every database: its cost stays that of one page however large the library grows.
  describe.skipIf(dialect.skipReason !== undefined)(`${dialect.name}: listing plans`, () => {
    let database: MigratedDatabase;
    let db: Kysely<DB>;
    const ownerId = randomUUID();
    const albumId = randomUUID();
    let middle: images.PageCursor;

    beforeAll(async () => {
      database = await openMigratedDatabase(dialect);
      db = database.db;
      await users.insertUser(db, userRow({ id: ownerId, created_at: NOW }));
      const rows = Array.from({ length: LIBRARY }, (_, i) =>
        imageRow(ownerId, {
          taken_at: NOW - i * 60_000,
          uploaded_at: NOW,
          favorite: i % 3 === 0 ? 1 : 0,
          trashed_at: i % 10 === 0 ? NOW - i : null,
        }),
      );
      for (let i = 0; i < rows.length; i += 500)
        await db
          .insertInto('images')
          .values(rows.slice(i, i + 500))
          .execute();
      await albums.insertAlbum(db, {
        id: albumId,
        owner_id: ownerId,
        title: 'All of them',
        description: '',
        cover_image_id: null,
        created_at: NOW,
        updated_at: NOW,
        activity_at: NOW,
      });
      for (let i = 0; i < rows.length; i += 500)
        await albums.addMembers(db, dialect.name, albumId, rows.slice(i, i + 500), NOW);
      const half = rows[LIBRARY / 2]!;
      middle = { takenAt: half.taken_at, id: half.id };
      // PostgreSQL and MySQL plan from statistics, which autovacuum and InnoDB gather by themselves:
      // gather them now. Pixa never runs ANALYZE on SQLite, so its planner is tested without them.
      if (dialect.name === 'postgres') await sql`analyze`.execute(db);
      else if (dialect.name === 'mysql') await sql`analyze table images, album_images`.execute(db);
    }, 60_000);

    afterAll(async () => {
      await database?.close();
    });

    const cases: [string, (db: Kysely<DB>) => Promise<unknown>][] = [
      ['the gallery, first page', (q) => images.listPage(q, ownerId, PAGE, undefined)],
      ['the gallery, a page by cursor', (q) => images.listPage(q, ownerId, PAGE, middle)],
      ['favourites', (q) => images.listPage(q, ownerId, PAGE, undefined, { favorite: true })],
      ['an album, first page', (q) => albums.listAlbumPage(q, albumId, PAGE, undefined)],
      ['an album, a page by cursor', (q) => albums.listAlbumPage(q, albumId, PAGE, middle)],
      ['the trash', (q) => images.listTrashPage(q, ownerId, PAGE, undefined)],
    ];

    for (const [name, run] of cases) {
      it(`${name}: read in index order, no sort`, async () => {
        const plan = await planOf(db, dialect.name, run);
        expect(sorts(dialect.name, plan), plan).toBe(false);
        // And the query still answers: the page is full.
        expect(await run(db)).toHaveLength(PAGE);
      });
    }
  });
}
