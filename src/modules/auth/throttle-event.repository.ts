import type { Executor } from '../../db/executor.js';
import { newId } from '../../lib/ids.js';

// What the sign-in and sign-up throttles count: failed sign-ins and created accounts, each an event
// with a scope (account, address, or both) and a time. Limits are counts of events in a window.

export async function recordEvents(db: Executor, scopes: string[], at: number): Promise<void> {
  await db
    .insertInto('throttle_events')
    .values(scopes.map((scope) => ({ id: newId(), scope, at })))
    .execute();
}

/** Times of the events in `scope` since `since`, oldest first. */
export async function eventTimes(db: Executor, scope: string, since: number): Promise<number[]> {
  const rows = await db
    .selectFrom('throttle_events')
    .select('at')
    .where('scope', '=', scope)
    .where('at', '>=', since)
    .orderBy('at')
    .execute();
  return rows.map((row) => Number(row.at));
}

export async function clearEvents(db: Executor, scope: string): Promise<void> {
  await db.deleteFrom('throttle_events').where('scope', '=', scope).execute();
}

export async function pruneEvents(db: Executor, before: number): Promise<void> {
  await db.deleteFrom('throttle_events').where('at', '<', before).execute();
}
