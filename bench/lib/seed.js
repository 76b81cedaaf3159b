// Seeds rows straight into Pixa's database through the compiled data layer (Kysely from dist/): image
// rows for listing, storage events for usage. Objects are not written; listing never reads them.
import { randomBytes } from 'node:crypto';

import { sql } from 'kysely';

import { dist } from './paths.js';

const YEAR_MS = 365 * 24 * 3600 * 1000;
const CHUNK = 500;

/** Opens the database a Pixa server uses (its URL, e.g. `sqlite:///…/pixa.db`) from the bench process. */
export async function openPixaDatabase(databaseUrl) {
  const { openDatabase } = await import(dist('db/database.js'));
  return openDatabase(databaseUrl, { poolSize: 4 });
}

/**
 * Inserts `count` images for `userId`, taken over the last ten years, in chunks of one multi-row
 * INSERT each, in one transaction. Returns their (taken_at, id) keys, newest first, as the gallery sorts.
 */
export async function seedImages(database, userId, count) {
  const { newId } = await import(dist('lib/ids.js'));
  const { reserveStorage } = await import(dist('modules/auth/user.repository.js'));
  const now = Date.now();
  const keys = [];
  let stored = 0;
  await database.db.transaction().execute(async (trx) => {
    for (let done = 0; done < count; done += CHUNK) {
      const rows = [];
      for (let i = done; i < Math.min(count, done + CHUNK); i++) {
        const id = newId();
        const original = 2_000_000 + Math.floor(Math.random() * 5_000_000);
        const row = {
          id,
          owner_id: userId,
          sha256: randomBytes(32).toString('hex'),
          filename: `IMG_${String(i).padStart(6, '0')}.jpg`,
          media_type: 'image/jpeg',
          original_bytes: original,
          thumbnail_bytes: 18_000,
          preview_bytes: 190_000,
          width: 6000,
          height: 4000,
          orientation: 1,
          taken_at: now - Math.floor(Math.random() * 10 * YEAR_MS),
          uploaded_at: now,
          object_prefix: `${userId}/${id}/`,
        };
        stored += original + 18_000 + 190_000;
        keys.push({ takenAt: row.taken_at, id });
        rows.push(row);
      }
      await trx.insertInto('images').values(rows).execute();
    }
    await reserveStorage(trx, userId, stored, 0);
  });
  await refreshStatistics(database, 'images');
  keys.sort((a, b) => b.takenAt - a.takenAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  return keys;
}

/**
 * Appends `count` storage events of today (UTC) for `userId` through the event repository, and adds
 * their bytes to the day's transfer counters as the service would.
 */
export async function seedStorageEvents(database, userId, count) {
  const { appendEvents } = await import(dist('modules/usage/storage-event.repository.js'));
  const { reserveTransfer } = await import(dist('modules/usage/transfer.repository.js'));
  const { utcDay } = await import(dist('lib/time.js'));
  const now = Date.now();
  const midnight = now - (now % (24 * 3600 * 1000));
  let bytesOut = 0;
  await database.db.transaction().execute(async (trx) => {
    for (let done = 0; done < count; done += CHUNK) {
      const events = [];
      for (let i = done; i < Math.min(count, done + CHUNK); i++) {
        const imageId = `00000000-0000-7000-8000-${String(i % 5000).padStart(12, '0')}`;
        const bytes = i % 3 === 0 ? 190_000 : 18_000;
        if (i % 3 === 0) bytesOut += bytes;
        events.push({
          at: midnight + Math.floor(Math.random() * (now - midnight)),
          user_id: userId,
          image_id: imageId,
          operation: 'download',
          object_key: `${userId}/${imageId}/${i % 3 === 0 ? 'preview.webp' : 'thumb.webp'}`,
          bytes,
          status: 200,
        });
      }
      await appendEvents(trx, events);
    }
    await reserveTransfer(trx, database.dialect, userId, utcDay(now), 'out', bytesOut, 0);
  });
  await refreshStatistics(database, 'storage_events');
}

/**
 * PostgreSQL and MySQL plan from table statistics, which their background jobs (autovacuum, InnoDB's
 * auto-recalculation) refresh some time after a bulk insert; refresh them now, so the figures are
 * those of a steady state rather than of a table the planner has not looked at yet. SQLite keeps none
 * unless ANALYZE is run, and Pixa never runs it, so it is left as Pixa leaves it.
 */
async function refreshStatistics(database, table) {
  if (database.dialect === 'postgres') await sql`analyze ${sql.table(table)}`.execute(database.db);
  if (database.dialect === 'mysql') await sql`analyze table ${sql.table(table)}`.execute(database.db);
}

/**
 * Puts the images of `keys` (from seedImages) into the album `albumId`, with album_images rows inserted
 * as the repository writes them (taken_at copied from the image), in chunks, in one transaction.
 */
export async function seedAlbum(database, albumId, keys) {
  const now = Date.now();
  await database.db.transaction().execute(async (trx) => {
    for (let done = 0; done < keys.length; done += CHUNK) {
      const rows = keys
        .slice(done, done + CHUNK)
        .map((key) => ({ album_id: albumId, image_id: key.id, taken_at: key.takenAt, added_at: now }));
      await trx.insertInto('album_images').values(rows).execute();
    }
  });
  await refreshStatistics(database, 'album_images');
}
