import type { Executor } from '../../db/executor.js';
import type { SessionsTable, UsersTable } from '../../db/tables.js';

export async function insertSession(db: Executor, session: SessionsTable): Promise<void> {
  await db.insertInto('sessions').values(session).execute();
}

export interface ActiveSession {
  sessionId: string;
  userId: string;
  username: UsersTable['username'];
  role: UsersTable['role'];
}

/** The session and its user, if the session exists, is not revoked and has not expired. */
export async function findActiveSession(db: Executor, id: string, now: number): Promise<ActiveSession | undefined> {
  return db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select(['sessions.id as sessionId', 'users.id as userId', 'users.username', 'users.role'])
    .where('sessions.id', '=', id)
    .where('sessions.revoked_at', 'is', null)
    .where('sessions.expires_at', '>', now)
    .executeTakeFirst();
}

export async function revokeSession(db: Executor, id: string, now: number): Promise<void> {
  await db
    .updateTable('sessions')
    .set({ revoked_at: now })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .execute();
}

/**
 * Revokes every live session of a user, except `keepId` if given. A password change keeps none: its
 * caller is handed a fresh session afterwards.
 */
export async function revokeUserSessions(db: Executor, userId: string, now: number, keepId?: string): Promise<void> {
  let query = db
    .updateTable('sessions')
    .set({ revoked_at: now })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null);
  if (keepId) query = query.where('id', '!=', keepId);
  await query.execute();
}

/** Drops sessions that ended more than a day ago; they can no longer authenticate anything. */
export async function pruneSessions(db: Executor, now: number): Promise<void> {
  await db
    .deleteFrom('sessions')
    .where('expires_at', '<', now - 86_400_000)
    .execute();
}
