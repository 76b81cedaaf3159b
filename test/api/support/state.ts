import { readdir } from 'node:fs/promises';
import path from 'node:path';

import { storedKeys, type TestServer } from '../../helpers/server.js';

/** Every file under `dir`, as paths relative to it; none when it does not exist. */
export async function filesUnder(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries
      .filter((entry) => entry.isFile())
      .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
      .sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** Keys of the objects a user has in the server's store (writes in progress excluded), sorted. */
export const objectKeysOf = (server: TestServer, userId: string): Promise<string[]> => storedKeys(server, `${userId}/`);

/** Upload temp files and half-written objects: after any request, there must be none. */
export async function leftoverTempFiles(server: TestServer): Promise<string[]> {
  return [
    ...(await filesUnder(path.join(server.dataDir, 'tmp'))),
    ...(await filesUnder(path.join(server.dataDir, 'objects', '.tmp'))),
  ];
}

export async function userRow(server: TestServer, userId: string) {
  const row = await server.db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirstOrThrow();
  return { ...row, storage_used_bytes: Number(row.storage_used_bytes) };
}

export async function imageRows(server: TestServer, userId: string) {
  const rows = await server.db.selectFrom('images').selectAll().where('owner_id', '=', userId).execute();
  return rows.map((row) => ({
    ...row,
    original_bytes: Number(row.original_bytes),
    thumbnail_bytes: Number(row.thumbnail_bytes),
    preview_bytes: Number(row.preview_bytes),
  }));
}

export async function storageEvents(server: TestServer, userId: string) {
  const rows = await server.db
    .selectFrom('storage_events')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('at')
    .execute();
  return rows.map((row) => ({ ...row, bytes: Number(row.bytes), status: Number(row.status) }));
}

export async function transferCounters(server: TestServer, userId: string) {
  const rows = await server.db.selectFrom('transfer_daily').selectAll().where('user_id', '=', userId).execute();
  return {
    bytesIn: rows.reduce((sum, row) => sum + Number(row.bytes_in), 0),
    bytesOut: rows.reduce((sum, row) => sum + Number(row.bytes_out), 0),
  };
}

/**
 * Transfer as the storage event log defines it: originals received in (new, duplicate, or refused
 * after their bytes arrived, whose event has the refusal's status), originals and previews served
 * out. Derivatives made on upload and thumbnails served are not transfer.
 */
export async function transferFromLog(server: TestServer, userId: string) {
  const events = await storageEvents(server, userId);
  const sum = (list: typeof events) => list.reduce((total, event) => total + event.bytes, 0);
  return {
    bytesIn: sum(events.filter((e) => e.operation === 'upload' && e.object_key.endsWith('/original'))),
    bytesOut: sum(
      events.filter((e) => e.operation === 'download' && e.status < 300 && !e.object_key.endsWith('/thumb.webp')),
    ),
  };
}

/** Sets an account's own quotas, as the administrator's `pixa user quota` does. */
export async function setUserQuotas(
  server: TestServer,
  userId: string,
  quotas: { storage_quota_bytes?: number | null; daily_transfer_bytes?: number | null },
): Promise<void> {
  await server.db.updateTable('users').set(quotas).where('id', '=', userId).execute();
}

/** Everything an upload could leave behind for one user: rows, objects, temp files, bytes counted. */
export async function storedState(server: TestServer, userId: string) {
  const [rows, objects, temp, user, transfer, events] = await Promise.all([
    imageRows(server, userId),
    objectKeysOf(server, userId),
    leftoverTempFiles(server),
    userRow(server, userId),
    transferCounters(server, userId),
    storageEvents(server, userId),
  ]);
  return { rows, objects, temp, storageUsed: user.storage_used_bytes, transfer, events };
}
