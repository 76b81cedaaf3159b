import { MysqlAdapter } from 'kysely';

import type { Executor } from '../../db/executor.js';
import { newId } from '../../lib/ids.js';

// What the sign-in and sign-up throttles count: failed sign-ins and created accounts, each an event
// with a scope (account, address, device, or account and address) and a time. Limits are counts of
// events in a window. A request locks its scopes' rows in `throttle_scopes` before it counts.

export interface ThrottleEvent {
  id: string;
  scope: string;
  at: number;
}

/**
 * Locks the row of each scope, creating the rows that are missing, until the transaction ends. One
 * upsert with its rows in sorted order, the order the databases lock them in, so two requests
 * sharing scopes never wait for each other in a circle. Being a write, it takes the row locks at
 * once (and SQLite's write lock); what the transaction reads afterwards includes everything
 * committed by those who held the locks before.
 */
export async function lockScopes(trx: Executor, scopes: string[], at: number): Promise<void> {
  const mysql = trx.getExecutor().adapter instanceof MysqlAdapter;
  const rows = [...new Set(scopes)].sort().map((scope) => ({ scope, touched_at: at }));
  const insert = trx.insertInto('throttle_scopes').values(rows);
  await (
    mysql
      ? insert.onDuplicateKeyUpdate({ touched_at: at })
      : insert.onConflict((oc) => oc.column('scope').doUpdateSet({ touched_at: at }))
  ).execute();
}

/** One event at `at` in each of `scopes`. */
export async function recordEvents(db: Executor, scopes: string[], at: number): Promise<void> {
  await insertEvents(
    db,
    scopes.map((scope) => ({ id: newId(), scope, at })),
  );
}

export async function insertEvents(db: Executor, events: ThrottleEvent[]): Promise<void> {
  if (events.length > 0) await db.insertInto('throttle_events').values(events).execute();
}

/** Times of the events in `scope` since `since`, oldest first. */
export async function eventTimes(db: Executor, scope: string, since: number): Promise<number[]> {
  return (await eventTimesByScope(db, [scope], since)).get(scope) ?? [];
}

/** Times of the events of each of `scopes` since `since`, oldest first: one query for all. */
export async function eventTimesByScope(db: Executor, scopes: string[], since: number): Promise<Map<string, number[]>> {
  const rows = await db
    .selectFrom('throttle_events')
    .select(['scope', 'at'])
    .where('scope', 'in', scopes)
    .where('at', '>=', since)
    .orderBy('at')
    .execute();
  const times = new Map<string, number[]>(scopes.map((scope) => [scope, []]));
  for (const row of rows) times.get(row.scope)?.push(Number(row.at));
  return times;
}

/** Deletes the events `ids`, and every event of `scope` when one is given, in one statement. */
export async function deleteEvents(db: Executor, ids: string[], scope?: string): Promise<void> {
  if (ids.length === 0 && scope === undefined) return;
  await db
    .deleteFrom('throttle_events')
    .where((eb) => {
      const conditions = ids.length > 0 ? [eb('id', 'in', ids)] : [];
      if (scope !== undefined) conditions.push(eb('scope', '=', scope));
      return eb.or(conditions);
    })
    .execute();
}

export async function clearEvents(db: Executor, scope: string): Promise<void> {
  await deleteEvents(db, [], scope);
}

/** Forgets events and scope rows older than `before`: nothing outside the longest window matters. */
export async function pruneEvents(db: Executor, before: number): Promise<void> {
  await db.deleteFrom('throttle_events').where('at', '<', before).execute();
  await db.deleteFrom('throttle_scopes').where('touched_at', '<', before).execute();
}
