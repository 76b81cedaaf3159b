import type { Insertable, Selectable } from 'kysely';

import type { Executor } from '../../db/executor.js';
import type { UsersTable } from '../../db/tables.js';

export type UserRow = Selectable<UsersTable>;

/** BIGINT columns may arrive as strings (driver-dependent); rows leave this module as numbers. */
function toUserRow(row: UserRow): UserRow {
  return {
    ...row,
    storage_quota_bytes: row.storage_quota_bytes === null ? null : Number(row.storage_quota_bytes),
    daily_transfer_bytes: row.daily_transfer_bytes === null ? null : Number(row.daily_transfer_bytes),
    storage_used_bytes: Number(row.storage_used_bytes),
    storage_reserved_bytes: Number(row.storage_reserved_bytes),
    created_at: Number(row.created_at),
  };
}

export async function insertUser(db: Executor, user: Insertable<UsersTable>): Promise<void> {
  await db.insertInto('users').values(user).execute();
}

export async function findUserById(db: Executor, id: string): Promise<UserRow | undefined> {
  const row = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toUserRow(row);
}

export async function findUserByKey(db: Executor, usernameKey: string): Promise<UserRow | undefined> {
  const row = await db.selectFrom('users').selectAll().where('username_key', '=', usernameKey).executeTakeFirst();
  return row && toUserRow(row);
}

export async function listUsers(db: Executor): Promise<UserRow[]> {
  const rows = await db.selectFrom('users').selectAll().orderBy('username_key').execute();
  return rows.map(toUserRow);
}

export async function updatePasswordHash(db: Executor, id: string, passwordHash: string): Promise<void> {
  await db.updateTable('users').set({ password_hash: passwordHash }).where('id', '=', id).execute();
}

export async function updateQuotas(
  db: Executor,
  id: string,
  quotas: { storage_quota_bytes?: number | null; daily_transfer_bytes?: number | null },
): Promise<boolean> {
  const result = await db.updateTable('users').set(quotas).where('id', '=', id).executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function deleteUser(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('users').where('id', '=', id).execute();
}

/**
 * Adds `bytes` to the account's stored total only if the result, with what resumable uploads hold,
 * stays within `quota` (0 = no limit). One conditional UPDATE, so concurrent uploads cannot both
 * pass a check and then overshoot. Returns false when the quota would be exceeded.
 */
export async function reserveStorage(db: Executor, id: string, bytes: number, quota: number): Promise<boolean> {
  return addWithinQuota(db, id, 'storage_used_bytes', bytes, quota);
}

/**
 * Holds `bytes` for a resumable upload (`storage_reserved_bytes`) under the same condition as
 * reserveStorage: stored plus held plus `bytes` within `quota`. Returns false when they do not fit.
 */
export async function holdStorage(db: Executor, id: string, bytes: number, quota: number): Promise<boolean> {
  return addWithinQuota(db, id, 'storage_reserved_bytes', bytes, quota);
}

/** Gives back what holdStorage held; never below zero. */
export async function releaseHeldStorage(db: Executor, id: string, bytes: number): Promise<void> {
  if (bytes <= 0) return;
  await db
    .updateTable('users')
    .set((eb) => ({ storage_reserved_bytes: eb('storage_reserved_bytes', '-', bytes) }))
    .where('id', '=', id)
    .where('storage_reserved_bytes', '>=', bytes)
    .execute();
}

async function addWithinQuota(
  db: Executor,
  id: string,
  column: 'storage_used_bytes' | 'storage_reserved_bytes',
  bytes: number,
  quota: number,
): Promise<boolean> {
  let query = db
    .updateTable('users')
    .set((eb) => ({ [column]: eb(column, '+', bytes) }))
    .where('id', '=', id);
  if (quota > 0) {
    query = query.where((eb) =>
      eb(eb(eb('storage_used_bytes', '+', eb.ref('storage_reserved_bytes')), '+', bytes), '<=', quota),
    );
  }
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function releaseStorage(db: Executor, id: string, bytes: number): Promise<void> {
  await db
    .updateTable('users')
    .set((eb) => ({ storage_used_bytes: eb('storage_used_bytes', '-', bytes) }))
    .where('id', '=', id)
    .execute();
}
