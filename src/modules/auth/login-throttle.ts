import type { Kysely } from 'kysely';

import type { DB } from '../../db/tables.js';
import { AppError } from '../../lib/app-error.js';
import { clearEvents, eventTimes, pruneEvents, recordEvents } from './throttle-event.repository.js';

interface Limit {
  scope: (account: string, address: string) => string;
  max: number;
  windowMs: number;
}

const MINUTE = 60_000;

/**
 * Failed sign-ins are counted in the database (so every replica sees them) in three scopes:
 * - one account from one address: tight, stops a guesser quickly without locking out the owner
 *   elsewhere;
 * - one account from anywhere: at most 100 an hour, against a distributed guesser;
 * - one address against any account: against password spraying.
 */
const LIMITS: readonly Limit[] = [
  { scope: (account, address) => `pair:${account}|${address}`, max: 10, windowMs: 15 * MINUTE },
  { scope: (account) => `account:${account}`, max: 100, windowMs: 60 * MINUTE },
  { scope: (_account, address) => `address:${address}`, max: 50, windowMs: 15 * MINUTE },
];

export interface LoginThrottle {
  /** Throws 429 with Retry-After when any scope is at its limit. */
  check(account: string, address: string, now: number): Promise<void>;
  recordFailure(account: string, address: string, now: number): Promise<void>;
  recordSuccess(account: string, address: string): Promise<void>;
  /** Throws 429 with Retry-After when `address` created `perHour` accounts in the last hour (0 = no limit). */
  checkSignup(address: string, perHour: number, now: number): Promise<void>;
  recordSignup(address: string, now: number): Promise<void>;
}

const signupScope = (address: string): string => `signup:${address}`;

/** Seconds until fewer than `max` of `times` (oldest first) fall in the window ending now. */
function secondsUntilFree(times: number[], max: number, windowMs: number, now: number): number {
  if (times.length < max) return 0;
  const freeing = times[times.length - max] ?? now;
  return Math.max(1, Math.ceil((freeing + windowMs - now) / 1000));
}

const inMinutes = (seconds: number): string => {
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
};

export function createLoginThrottle(db: Kysely<DB>): LoginThrottle {
  return {
    async check(account, address, now) {
      let seconds = 0;
      for (const limit of LIMITS) {
        const times = await eventTimes(db, limit.scope(account, address), now - limit.windowMs);
        // Allowed again once enough of the oldest failures have left the window.
        seconds = Math.max(seconds, secondsUntilFree(times, limit.max, limit.windowMs, now));
      }
      if (seconds > 0) {
        throw new AppError(
          'too_many_attempts',
          429,
          `Too many failed sign-in attempts. Try again in ${inMinutes(seconds)}.`,
          { 'retry-after': String(seconds) },
        );
      }
    },
    async recordFailure(account, address, now) {
      await recordEvents(
        db,
        LIMITS.map((limit) => limit.scope(account, address)),
        now,
      );
      // Keep the table small: nothing older than the longest window matters.
      if (Math.random() < 0.05) await pruneEvents(db, now - 60 * MINUTE);
    },
    async checkSignup(address, perHour, now) {
      if (perHour <= 0) return;
      const times = await eventTimes(db, signupScope(address), now - 60 * MINUTE);
      const seconds = secondsUntilFree(times, perHour, 60 * MINUTE, now);
      if (seconds > 0) {
        throw new AppError(
          'too_many_signups',
          429,
          `Too many accounts were created from your network. Try again in ${inMinutes(seconds)}.`,
          { 'retry-after': String(seconds) },
        );
      }
    },
    async recordSignup(address, now) {
      await recordEvents(db, [signupScope(address)], now);
    },
    async recordSuccess(account, address) {
      await clearEvents(db, LIMITS[0]!.scope(account, address));
    },
  };
}

/**
 * Runs tasks for one key one after another. Sign-in attempts for one account go through this, so
 * that parallel guesses cannot all pass the throttle's check before any of their failures is
 * recorded. It serialises within one process; across replicas the window is one attempt each.
 */
export function createKeyedQueue() {
  const tails = new Map<string, Promise<void>>();
  return async function run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = tails.get(key) ?? Promise.resolve();
    const result = previous.then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    tails.set(key, tail);
    try {
      return await result;
    } finally {
      if (tails.get(key) === tail) tails.delete(key);
    }
  };
}
