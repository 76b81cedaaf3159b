import type { Executor } from '../../db/executor.js';
import { newId } from '../../lib/ids.js';

export async function recordFailures(db: Executor, scopes: string[], at: number): Promise<void> {
  await db
    .insertInto('login_failures')
    .values(scopes.map((scope) => ({ id: newId(), scope, at })))
    .execute();
}

/** Times of the failures in `scope` since `since`, oldest first. */
export async function failureTimes(db: Executor, scope: string, since: number): Promise<number[]> {
  const rows = await db
    .selectFrom('login_failures')
    .select('at')
    .where('scope', '=', scope)
    .where('at', '>=', since)
    .orderBy('at')
    .execute();
  return rows.map((row) => Number(row.at));
}

export async function clearFailures(db: Executor, scope: string): Promise<void> {
  await db.deleteFrom('login_failures').where('scope', '=', scope).execute();
}

export async function pruneFailures(db: Executor, before: number): Promise<void> {
  await db.deleteFrom('login_failures').where('at', '<', before).execute();
}
