import type { Kysely } from 'kysely';

import type { SignIn, User } from '../../api/auth.js';
import type { DeviceSignIn, Principal } from '../../api/internal.js';

import { isUniqueViolation } from '../../db/database.js';
import { inTransaction } from '../../db/transaction.js';
import type { DB } from '../../db/tables.js';
import { AppError, unauthorized } from '../../lib/app-error.js';
import { newId } from '../../lib/ids.js';
import { toIso } from '../../lib/time.js';
import { checkNewPassword, checkUsername, USERNAME_PATTERN, usernameKey } from './credential-rules.js';
import type { DeviceKeys } from './device-keys.js';
import type { LoginThrottle, SignInAttempt } from './login-throttle.js';
import { hashPassword, verifyPassword } from './password.js';
import { createSessionCheck } from './session-check.js';
import * as sessions from './session.repository.js';
import type { TokenSigner } from './token.js';
import * as users from './user.repository.js';

export type { DeviceSignIn, Principal, SignIn, User };

export interface AuthService {
  /** `address` is the client's: accounts created from one address are limited per hour (the CLI gives none). */
  register(
    username: string,
    password: string,
    options?: { role?: 'user' | 'admin'; address?: string },
  ): Promise<DeviceSignIn>;
  /**
   * `device` is the value of the client's device cookie: when it was issued to this account, failures
   * count against that device alone, so the owner is not locked out by guessing from elsewhere.
   */
  login(username: string, password: string, address: string, device?: string): Promise<DeviceSignIn>;
  logout(sessionId: string): Promise<void>;
  authenticate(token: string): Promise<Principal>;
  /** authenticate() without a promise, when the answer is in memory (see SessionCheck); else undefined. */
  authenticateCached(token: string): Principal | undefined;
  /** A wrong current password counts as a failed sign-in of the account from `address` (or `device`). */
  changePassword(
    principal: Principal,
    currentPassword: string,
    newPassword: string,
    address?: string,
    device?: string,
  ): Promise<SignIn>;
  getUser(userId: string): Promise<User>;
  /** Deletes the account row and its sessions; its images must be gone first (the caller's job). */
  deleteUser(userId: string): Promise<void>;
}

export const toUserDto = (row: users.UserRow): User => ({
  id: row.id,
  username: row.username,
  role: row.role,
  createdAt: toIso(row.created_at),
});

/**
 * The account as `GET /api/v1/me` shows it; 401 once it is gone. Read by the auth service, and in pod
 * mode by the gateway, from the shared database.
 */
export async function readUser(db: Kysely<DB>, userId: string): Promise<User> {
  const user = await users.findUserById(db, userId);
  if (!user) throw unauthorized();
  return toUserDto(user);
}

const invalidCredentials = (): AppError => new AppError('invalid_credentials', 401, 'Wrong username or password.');

export function createAuthService(deps: {
  db: Kysely<DB>;
  signer: TokenSigner;
  throttle: LoginThrottle;
  devices: DeviceKeys;
  tokenTtlSeconds: number;
  /** Accounts one address may create per hour; 0 = no limit. */
  signupPerHour?: number;
  now?: () => number;
}): AuthService {
  const { db, signer, throttle, devices, tokenTtlSeconds } = deps;
  const now = deps.now ?? Date.now;
  // Verified when the username is unknown, so both failures take the same time.
  const decoyHash = hashPassword(newId());
  const sessionCheck = createSessionCheck({ db, signer, now });

  /**
   * Runs `verify` as one sign-in attempt: the throttle counts it as a failure before the argon2 work
   * (so parallel attempts cannot all slip under a limit) and takes that back when it succeeds.
   */
  async function throttled<T>(attempt: SignInAttempt, verify: () => Promise<T | undefined>): Promise<T | undefined> {
    const reservation = await throttle.begin(attempt, now());
    let verified: T | undefined;
    try {
      verified = await verify();
    } catch (error) {
      // Not a wrong password (the database failed): the attempt does not count.
      await throttle.release(reservation).catch(() => undefined);
      throw error;
    }
    if (verified !== undefined) await throttle.succeed(reservation);
    return verified;
  }

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
      const key = usernameKey(username);
      // The place is taken before the hash, so registrations sent at once cannot all pass the limit;
      // it is given back when no account comes of it.
      const place =
        options.address === undefined
          ? undefined
          : await throttle.reserveSignup(options.address, deps.signupPerHour ?? 0, now());
      let row: users.UserRow;
      try {
        if (await users.findUserByKey(db, key)) throw usernameTaken();
        row = {
          id: newId(),
          username,
          username_key: key,
          password_hash: await hashPassword(password),
          role: options.role ?? 'user',
          storage_quota_bytes: null,
          daily_transfer_bytes: null,
          storage_used_bytes: 0,
          storage_reserved_bytes: 0,
          created_at: now(),
        };
        try {
          await users.insertUser(db, row);
        } catch (error) {
          // Two registrations of one name raced past the check above; the unique key decides.
          if (isUniqueViolation(error)) throw usernameTaken();
          throw error;
        }
      } catch (error) {
        await throttle.release(place);
        throw error;
      }
      return { ...(await startSession(row)), device: devices.issue(key) };
    },

    async login(username, password, address, device) {
      const key = usernameKey(username.trim());
      const attempt = { account: key, address, device: devices.verify(device, key) };
      const user = await throttled(attempt, async () => {
        const found = USERNAME_PATTERN.test(key) ? await users.findUserByKey(db, key) : undefined;
        const ok = await verifyPassword(found?.password_hash ?? (await decoyHash), password);
        return found && ok ? found : undefined;
      });
      if (!user) throw invalidCredentials();
      return { ...(await startSession(user)), device: devices.issue(key) };
    },

    async logout(sessionId) {
      sessionCheck.forgetSession(sessionId);
      await sessions.revokeSession(db, sessionId, now());
    },

    authenticate: (token) => sessionCheck.authenticate(token),
    authenticateCached: (token) => sessionCheck.authenticateCached(token),

    async changePassword(principal, currentPassword, newPassword, address = 'internal', device) {
      const user = await users.findUserById(db, principal.userId);
      if (!user) throw unauthorized();
      // A stolen token must not become an unlimited oracle for the password: same throttle as sign-in.
      const key = user.username_key;
      const attempt = { account: key, address, device: devices.verify(device, key) };
      const right = await throttled(attempt, async () =>
        (await verifyPassword(user.password_hash, currentPassword)) ? true : undefined,
      );
      if (!right) throw new AppError('invalid_credentials', 401, 'Your current password is wrong.');
      checkNewPassword(newPassword, user.username);
      const passwordHash = await hashPassword(newPassword);
      await inTransaction(db, async (trx) => {
        await users.updatePasswordHash(trx, user.id, passwordHash);
        // Every session ends, this one too: the caller gets a fresh token below.
        await sessions.revokeUserSessions(trx, user.id, now());
      });
      sessionCheck.forgetUser(user.id);
      return startSession(user);
    },

    getUser: (userId) => readUser(db, userId),

    async deleteUser(userId) {
      // Sessions go with the account (the foreign key cascades).
      await users.deleteUser(db, userId);
      sessionCheck.forgetUser(userId);
    },
  };
}

const usernameTaken = (): AppError =>
  new AppError('username_taken', 409, 'That username is taken. Choose another one.');
