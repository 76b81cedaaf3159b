import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

import type { Kysely } from 'kysely';

import type { DB } from '../../../src/db/tables.js';
import type { ObjectStore } from '../../../src/storage/object-store.js';
import type { TestServer } from '../../helpers/server.js';

/** Every file under `dir`, as `/`-separated paths relative to it; none when it does not exist. */
export async function filesUnder(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries
      .filter((entry) => entry.isFile())
      .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
      .sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** What the database and the object store say, and every way in which they disagree. */
export interface IntegrityReport {
  rows: number;
  objects: string[];
  /** Rows whose original, thumbnail or preview object is missing. */
  rowsWithoutObjects: string[];
  /** Objects no row refers to (orphans, for the sweeper). */
  objectsWithoutRow: string[];
  /** Objects whose size differs from what their row recorded. */
  sizeMismatches: string[];
  /** Users whose storage_used_bytes is not the sum over their rows. */
  storageMismatches: { userId: string; counted: number; actual: number }[];
  /** Users whose transfer_daily totals are not the sums of their storage events. */
  transferMismatches: { userId: string; counted: { in: number; out: number }; logged: { in: number; out: number } }[];
  /** Upload temp files and half-written objects. */
  temp: string[];
}

const VARIANTS = [
  ['original', 'original_bytes'],
  ['thumb.webp', 'thumbnail_bytes'],
  ['preview.webp', 'preview_bytes'],
] as const;

/**
 * Compares the database with the object store: the invariants the design promises after any failure.
 * Without `store`, the fs store under `dataDir` (objects/, objects/.tmp) is read directly; with it,
 * whatever backend it is, listed through the store. Upload staging files are always under
 * `dataDir/tmp`. An empty report (see `problemsOf`) means nothing was lost and nothing is counted twice.
 */
export async function checkIntegrity(db: Kysely<DB>, dataDir: string, store?: ObjectStore): Promise<IntegrityReport> {
  const objectsDir = path.join(dataDir, 'objects');
  const all = await filesUnder(objectsDir);
  const temp = [
    ...all.filter((key) => key.startsWith('.tmp/')).map((key) => `objects/${key}`),
    ...(await filesUnder(path.join(dataDir, 'tmp'))).map((file) => `tmp/${file}`),
  ];
  const sizes = new Map<string, number>();
  if (store) {
    for await (const object of store.list('')) sizes.set(object.key, object.size);
  } else {
    for (const key of all.filter((name) => !name.startsWith('.tmp/'))) {
      sizes.set(key, (await stat(path.join(objectsDir, key))).size);
    }
  }
  const objects = [...sizes.keys()].sort();

  const images = await db.selectFrom('images').selectAll().execute();
  const expected = new Set<string>();
  const rowsWithoutObjects: string[] = [];
  const sizeMismatches: string[] = [];
  const storedByUser = new Map<string, number>();
  for (const row of images) {
    let total = 0;
    for (const [name, column] of VARIANTS) {
      const key = `${row.object_prefix}${name}`;
      const bytes = Number(row[column]);
      total += bytes;
      expected.add(key);
      const size = sizes.get(key);
      if (size === undefined) rowsWithoutObjects.push(key);
      else if (size !== bytes) sizeMismatches.push(`${key}: ${size} stored, ${bytes} recorded`);
    }
    storedByUser.set(row.owner_id, (storedByUser.get(row.owner_id) ?? 0) + total);
  }

  const users = await db.selectFrom('users').select(['id', 'storage_used_bytes']).execute();
  const storageMismatches = users
    .map((user) => ({
      userId: user.id,
      counted: Number(user.storage_used_bytes),
      actual: storedByUser.get(user.id) ?? 0,
    }))
    .filter((entry) => entry.counted !== entry.actual);

  const transferMismatches: IntegrityReport['transferMismatches'] = [];
  const counters = await db.selectFrom('transfer_daily').selectAll().execute();
  const events = await db.selectFrom('storage_events').selectAll().execute();
  for (const user of users) {
    const counted = { in: 0, out: 0 };
    for (const row of counters.filter((r) => r.user_id === user.id)) {
      counted.in += Number(row.bytes_in);
      counted.out += Number(row.bytes_out);
    }
    const logged = { in: 0, out: 0 };
    for (const event of events.filter((e) => e.user_id === user.id)) {
      // Originals received count whatever the answer: a refused upload (4xx) logs the bytes it received.
      if (event.operation === 'upload' && event.object_key.endsWith('/original')) logged.in += Number(event.bytes);
      if (event.operation === 'download' && Number(event.status) < 300 && !event.object_key.endsWith('/thumb.webp'))
        logged.out += Number(event.bytes);
    }
    if (counted.in !== logged.in || counted.out !== logged.out) {
      transferMismatches.push({ userId: user.id, counted, logged });
    }
  }

  return {
    rows: images.length,
    objects,
    rowsWithoutObjects,
    objectsWithoutRow: objects.filter((key) => !expected.has(key)),
    sizeMismatches,
    storageMismatches,
    transferMismatches,
    temp,
  };
}

/** checkIntegrity of a test server, in either mode, on whatever database and store it runs on. */
export function integrityOf(server: TestServer): Promise<IntegrityReport> {
  return checkIntegrity(server.db, server.dataDir, server.store);
}

/** The parts of a report that must be empty, for one `toEqual` with a readable diff. */
export function problemsOf(report: IntegrityReport) {
  return {
    rowsWithoutObjects: report.rowsWithoutObjects,
    objectsWithoutRow: report.objectsWithoutRow,
    sizeMismatches: report.sizeMismatches,
    storageMismatches: report.storageMismatches,
    transferMismatches: report.transferMismatches,
    temp: report.temp,
  };
}

export const NO_PROBLEMS = {
  rowsWithoutObjects: [],
  objectsWithoutRow: [],
  sizeMismatches: [],
  storageMismatches: [],
  transferMismatches: [],
  temp: [],
};
