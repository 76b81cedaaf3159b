import type { Kysely } from 'kysely';
import { LRUCache } from 'lru-cache';

import type { Principal } from '../../api/internal.js';
import type { DB } from '../../db/tables.js';
import { unauthorized } from '../../lib/app-error.js';
import * as sessions from './session.repository.js';
import type { TokenClaims, TokenSigner } from './token.js';

/** How long another replica may still accept a session that ended elsewhere (the media cache's bound too). */
export const SESSION_TRUST_MS = 2_000;

/**
 * Checking a request's token: its signature, then that its session is still active. Active sessions
 * are trusted for SESSION_TRUST_MS after they were read, so a gallery's hundreds of media requests do
 * not each ask the database. An ending told to this process (`forget*`) applies here at once; one on
 * another process sharing the database, within that time. Runs in the auth service, and in pod mode in
 * the gateway too, which then needs no call to the auth service for a request it can answer itself.
 */
export interface SessionCheck {
  authenticate(token: string): Promise<Principal>;
  /**
   * authenticate() without a promise, for what it would answer from memory alone: a token verified
   * before whose session was read active within SESSION_TRUST_MS. Undefined for anything else, which
   * authenticate() answers.
   */
  authenticateCached(token: string): Principal | undefined;
  /** A session that just ended (sign-out). */
  forgetSession(sessionId: string): void;
  /** Every session of an account that just ended them all (new password, deleted account). */
  forgetUser(userId: string): void;
}

export function createSessionCheck(deps: { db: Kysely<DB>; signer: TokenSigner; now?: () => number }): SessionCheck {
  const { db, signer } = deps;
  const now = deps.now ?? Date.now;
  const active = new LRUCache<string, { session: Principal; until: number }>({ max: 10_000 });
  // Bumped by every ending, so a lookup that raced one is not cached with what it read before it.
  let endings = 0;

  /** The session of `claims` as last read, while it is trusted. */
  function trusted(claims: TokenClaims, at: number): Principal | undefined {
    const known = active.get(claims.sessionId);
    return known && at < known.until && known.session.userId === claims.userId ? known.session : undefined;
  }

  return {
    authenticateCached(token) {
      const claims = signer.verifiedBefore(token);
      return claims && trusted(claims, now());
    },
    async authenticate(token) {
      const claims = await signer.verify(token);
      if (!claims) throw unauthorized('Your session is invalid or has expired. Sign in again.');
      const at = now();
      const known = trusted(claims, at);
      if (known) return known;
      const endingsBefore = endings;
      const session = await sessions.findActiveSession(db, claims.sessionId, at);
      if (!session || session.userId !== claims.userId) {
        throw unauthorized('Your session has ended. Sign in again.');
      }
      if (endings === endingsBefore) {
        active.set(claims.sessionId, { session, until: Math.min(at + SESSION_TRUST_MS, claims.expiresAt) });
      }
      return session;
    },
    forgetSession(sessionId) {
      endings += 1;
      active.delete(sessionId);
    },
    forgetUser(userId) {
      endings += 1;
      for (const [id, entry] of active.entries()) if (entry.session.userId === userId) active.delete(id);
    },
  };
}
