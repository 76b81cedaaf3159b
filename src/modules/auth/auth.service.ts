import type { Kysely } from 'kysely';

import { isUniqueViolation } from '../../db/database.js';
import { inTransaction } from '../../db/transaction.js';
import type { DB } from '../../db/tables.js';
import { AppError, unauthorized } from '../../lib/app-error.js';
import { newId } from '../../lib/ids.js';
import { toIso } from '../../lib/time.js';
import { checkNewPassword, checkUsername, USERNAME_PATTERN, usernameKey } from './credential-rules.js';
import { createKeyedQueue, type LoginThrottle } from './login-throttle.js';
import { hashPassword, verifyPassword } from './password.js';
import * as sessions from './session.repository.js';
import type { ActiveSession } from './session.repository.js';
import type { TokenSigner } from './token.js';
import * as users from './user.repository.js';

export interface UserDto {
  id: string;
  username: string;
  role: 'user' | 'admin';
  createdAt: string;
}

export interface SignIn {
  token: string;
  expiresAt: string;
  user: UserDto;
}

/** Who a request acts for: the session it came with and that session's user. */
export type Principal = ActiveSession;

export interface AuthService {
  /** `address` is the client's: accounts created from one address are limited per hour (the CLI gives none). */
  register(
    username: string,
    password: string,
    options?: { role?: 'user' | 'admin'; address?: string },
  ): Promise<SignIn>;
  login(username: string, password: string, address: string): Promise<SignIn>;
  logout(sessionId: string): Promise<void>;
  authenticate(token: string): Promise<Principal>;
  /** A wrong current password counts as a failed sign-in of the account from `address`. */
  changePassword(principal: Principal, currentPassword: string, newPassword: string, address?: string): Promise<SignIn>;
  getUser(userId: string): Promise<UserDto>;
}

export const toUserDto = (row: users.UserRow): UserDto => ({
  id: row.id,
  username: row.username,
  role: row.role,
  createdAt: toIso(row.created_at),
});

const invalidCredentials = (): AppError => new AppError('invalid_credentials', 401, 'Wrong username or password.');

export function createAuthService(deps: {
  db: Kysely<DB>;
  signer: TokenSigner;
  throttle: LoginThrottle;
  tokenTtlSeconds: number;
  /** Accounts one address may create per hour; 0 = no limit. */
  signupPerHour?: number;
  now?: () => number;
}): AuthService {
  const { db, signer, throttle, tokenTtlSeconds } = deps;
  const now = deps.now ?? Date.now;
  // Verified when the username is unknown, so both failures take the same time.
  const decoyHash = hashPassword(newId());
  const oneAttemptAtATime = createKeyedQueue();

  async function startSession(user: users.UserRow): Promise<SignIn> {
    const createdAt = now();
    const expiresAt = createdAt + tokenTtlSeconds * 1000;
    const sessionId = newId();
    await sessions.insertSession(db, {
      id: sessionId,
      user_id: user.id,
      created_at: createdAt,
      expires_at: expiresAt,
      revoked_at: null,
    });
    const token = await signer.sign({ userId: user.id, sessionId, expiresAt });
    if (Math.random() < 0.01) await sessions.pruneSessions(db, createdAt);
    return { token, expiresAt: toIso(expiresAt), user: toUserDto(user) };
  }

  return {
    async register(username, password, options = {}) {
      checkUsername(username);
      checkNewPassword(password, username);
      if (options.address !== undefined) await throttle.checkSignup(options.address, deps.signupPerHour ?? 0, now());
      const key = usernameKey(username);
      if (await users.findUserByKey(db, key)) throw usernameTaken();
      const row: users.UserRow = {
        id: newId(),
        username,
        username_key: key,
        password_hash: await hashPassword(password),
        role: options.role ?? 'user',
        storage_quota_bytes: null,
        daily_transfer_bytes: null,
        storage_used_bytes: 0,
        created_at: now(),
      };
      try {
        await users.insertUser(db, row);
      } catch (error) {
        // Two registrations of one name raced past the check above; the unique key decides.
        if (isUniqueViolation(error)) throw usernameTaken();
        throw error;
      }
      if (options.address !== undefined) await throttle.recordSignup(options.address, now());
      return startSession(row);
    },

    async login(username, password, address) {
      const key = usernameKey(username.trim());
      const user = await oneAttemptAtATime(key, async () => {
        await throttle.check(key, address, now());
        const found = USERNAME_PATTERN.test(key) ? await users.findUserByKey(db, key) : undefined;
        const ok = await verifyPassword(found?.password_hash ?? (await decoyHash), password);
        if (!found || !ok) {
          await throttle.recordFailure(key, address, now());
          throw invalidCredentials();
        }
        await throttle.recordSuccess(key, address);
        return found;
      });
      return startSession(user);
    },

    async logout(sessionId) {
      await sessions.revokeSession(db, sessionId, now());
    },

    async authenticate(token) {
      const claims = await signer.verify(token);
      if (!claims) throw unauthorized('Your session is invalid or has expired. Sign in again.');
      const session = await sessions.findActiveSession(db, claims.sessionId, now());
      if (!session || session.userId !== claims.userId) {
        throw unauthorized('Your session has ended. Sign in again.');
      }
      return session;
    },

    async changePassword(principal, currentPassword, newPassword, address = 'internal') {
      const user = await users.findUserById(db, principal.userId);
      if (!user) throw unauthorized();
      // A stolen token must not become an unlimited oracle for the password: same throttle as sign-in.
      await oneAttemptAtATime(user.username_key, async () => {
        await throttle.check(user.username_key, address, now());
        if (!(await verifyPassword(user.password_hash, currentPassword))) {
          await throttle.recordFailure(user.username_key, address, now());
          throw new AppError('invalid_credentials', 401, 'Your current password is wrong.');
        }
      });
      checkNewPassword(newPassword, user.username);
      const passwordHash = await hashPassword(newPassword);
      await inTransaction(db, async (trx) => {
        await users.updatePasswordHash(trx, user.id, passwordHash);
        // Every session ends, this one too: the caller gets a fresh token below.
        await sessions.revokeUserSessions(trx, user.id, now());
      });
      return startSession(user);
    },

    async getUser(userId) {
      const user = await users.findUserById(db, userId);
      if (!user) throw unauthorized();
      return toUserDto(user);
    },
  };
}

const usernameTaken = (): AppError =>
  new AppError('username_taken', 409, 'That username is taken. Choose another one.');
