import type { Selectable } from 'kysely';

import type { Executor } from '../../db/executor.js';
import type { JobsTable } from '../../db/tables.js';
import { newId } from '../../lib/ids.js';

export type JobRow = Selectable<JobsTable>;

function toJobRow(row: JobRow): JobRow {
  return {
    ...row,
    attempts: Number(row.attempts),
    run_after: Number(row.run_after),
    locked_until: row.locked_until === null ? null : Number(row.locked_until),
    created_at: Number(row.created_at),
    updated_at: Number(row.updated_at),
  };
}

/** Queues a job; inside the caller's transaction, it exists exactly when what it works on does. */
export async function enqueueJob(db: Executor, kind: string, payload: unknown, at: number): Promise<string> {
  const id = newId();
  await db
    .insertInto('jobs')
    .values({
      id,
      kind,
      payload: JSON.stringify(payload),
      state: 'queued',
      attempts: 0,
      run_after: at,
      locked_by: null,
      locked_until: null,
      last_error: null,
      created_at: at,
      updated_at: at,
    })
    .execute();
  return id;
}

/**
 * Takes one job that is due: queued and past its back-off, or running under a lease that ended (its
 * worker died). Candidates are read first, then each is claimed with an UPDATE that repeats the same
 * condition: the database applies one UPDATE to a row at a time and re-checks the condition against
 * the row as the winner left it, so of two workers claiming one job exactly one changes a row. This
 * works alike on SQLite, MariaDB/MySQL and PostgreSQL, without SKIP LOCKED.
 */
export async function takeJob(
  db: Executor,
  workerId: string,
  now: number,
  leaseMs: number,
  kinds: readonly string[],
): Promise<JobRow | undefined> {
  const candidates = db
    .selectFrom('jobs')
    .select('id')
    .where('kind', 'in', kinds)
    .where((eb) =>
      eb.or([
        eb.and([eb('state', '=', 'queued'), eb('run_after', '<=', now)]),
        eb.and([eb('state', '=', 'running'), eb('locked_until', '<', now)]),
      ]),
    )
    .orderBy('run_after')
    .limit(5);
  for (const { id } of await candidates.execute()) {
    const claimed = await db
      .updateTable('jobs')
      .set((eb) => ({
        state: 'running',
        locked_by: workerId,
        locked_until: now + leaseMs,
        attempts: eb('attempts', '+', 1),
        updated_at: now,
      }))
      .where('id', '=', id)
      .where((eb) =>
        eb.or([
          eb.and([eb('state', '=', 'queued'), eb('run_after', '<=', now)]),
          eb.and([eb('state', '=', 'running'), eb('locked_until', '<', now)]),
        ]),
      )
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) === 1) {
      const row = await db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
      // Another worker may have taken it again already if this one stalled for a whole lease.
      if (row && row.locked_by === workerId) return toJobRow(row);
    }
  }
  return undefined;
}

/** Extends the lease of a job this worker holds; false when it no longer holds it. */
export async function renewLease(db: Executor, id: string, workerId: string, until: number, now: number) {
  const result = await db
    .updateTable('jobs')
    .set({ locked_until: until, updated_at: now })
    .where('id', '=', id)
    .where('locked_by', '=', workerId)
    .where('state', '=', 'running')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * Hands a held job back to the queue at once without counting the attempt: its worker is shutting
 * down, which says nothing about the job.
 */
export async function releaseJob(db: Executor, id: string, workerId: string, now: number): Promise<boolean> {
  const result = await db
    .updateTable('jobs')
    .set((eb) => ({
      state: 'queued',
      locked_by: null,
      locked_until: null,
      run_after: now,
      attempts: eb('attempts', '-', 1),
      updated_at: now,
    }))
    .where('id', '=', id)
    .where('locked_by', '=', workerId)
    .where('state', '=', 'running')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Marks a held job done, queued again for a retry at `retryAt`, or dead. */
export async function finishJob(
  db: Executor,
  id: string,
  workerId: string,
  now: number,
  outcome: { state: 'done' } | { state: 'queued'; retryAt: number; error: string } | { state: 'dead'; error: string },
): Promise<boolean> {
  const result = await db
    .updateTable('jobs')
    .set({
      state: outcome.state,
      locked_by: null,
      locked_until: null,
      updated_at: now,
      ...(outcome.state === 'queued' ? { run_after: outcome.retryAt } : {}),
      ...(outcome.state === 'done' ? {} : { last_error: outcome.error.slice(0, 1000) }),
    })
    .where('id', '=', id)
    .where('locked_by', '=', workerId)
    .where('state', '=', 'running')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function findJob(db: Executor, id: string): Promise<JobRow | undefined> {
  const row = await db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toJobRow(row);
}

/** Jobs of a kind whose payload is exactly `payload` (tests and support look jobs up by what they do). */
export async function findJobsByPayload(db: Executor, kind: string, payload: unknown): Promise<JobRow[]> {
  const rows = await db
    .selectFrom('jobs')
    .selectAll()
    .where('kind', '=', kind)
    .where('payload', '=', JSON.stringify(payload))
    .execute();
  return rows.map(toJobRow);
}

/** Removes finished jobs older than `before`; dead ones stay, so their error can be read. */
export async function pruneDoneJobs(db: Executor, before: number): Promise<number> {
  const result = await db
    .deleteFrom('jobs')
    .where('state', '=', 'done')
    .where('updated_at', '<', before)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
