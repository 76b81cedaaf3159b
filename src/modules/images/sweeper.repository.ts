import type { Executor } from '../../db/executor.js';

/**
 * Whether `ownerId` is an account of this deployment, now or in the past: it has a row, or the event
 * log (or its daily roll-up) names it. Ids are random UUIDs, so another deployment's owners are
 * never known here; a deleted account's leftovers still are, through the events of its uploads.
 */
export async function ownerIsKnown(db: Executor, ownerId: string): Promise<boolean> {
  const user = await db.selectFrom('users').select('id').where('id', '=', ownerId).executeTakeFirst();
  if (user) return true;
  const event = await db
    .selectFrom('storage_events')
    .select('id')
    .where('user_id', '=', ownerId)
    .limit(1)
    .executeTakeFirst();
  if (event) return true;
  const day = await db
    .selectFrom('storage_event_days')
    .select('user_id')
    .where('user_id', '=', ownerId)
    .limit(1)
    .executeTakeFirst();
  return day !== undefined;
}
