import type { Kysely } from 'kysely';

import type { DB } from '../../db/tables.js';
import { inTransaction } from '../../db/transaction.js';
import { AppError } from '../../lib/app-error.js';
import { newId } from '../../lib/ids.js';
import { addressKey } from './address-key.js';
import { deleteEvents, eventTimesByScope, insertEvents, lockScopes, pruneEvents } from './throttle-event.repository.js';

interface Limit {
  scope: string;
  max: number;
  windowMs: number;
}

const MINUTE = 60_000;
/**
 * Throttle transactions one process runs at a time. Attempts on one account wait for each other's
 * row lock; a burst of them must wait here, in memory, rather than each holding one of the pool's
 * connections while it waits, which would starve every other request of the database.
 */
const CONCURRENT_TRANSACTIONS = 4;
const HOUR = 60 * MINUTE;

/** One sign-in (or password-change) attempt, as the throttle sees it. */
export interface SignInAttempt {
  /** The username key tried. */
  account: string;
  /** The client's address. */
  address: string;
  /** The id of the device cookie the request carried, when it was valid for `account`. */
  device?: string;
}

/** Events counted ahead of the work they limit, to keep or to take back. */
export interface Reservation {
  ids: string[];
  /** The scope whose failures a success forgets. */
  forgets?: string;
}

/**
 * Failed sign-ins are counted in the database (so every replica sees them). An attempt from a device
 * that signed in to the account before (a valid device cookie) counts against that device alone:
 * 10 in 15 minutes. Any other attempt counts in three scopes:
 * - the account from the address: 10 in 15 minutes, stops a guesser quickly;
 * - the account from anywhere: 100 an hour, against a distributed guesser. It locks out new devices
 *   only, never a device the owner signed in on before;
 * - the address against any account: 50 in 15 minutes, against password spraying.
 * IPv6 addresses count by their /64.
 */
function limitsOf({ account, address, device }: SignInAttempt): Limit[] {
  if (device !== undefined) return [{ scope: `device:${device}`, max: 10, windowMs: 15 * MINUTE }];
  const net = addressKey(address);
  return [
    { scope: `pair:${account}|${net}`, max: 10, windowMs: 15 * MINUTE },
    { scope: `account:${account}`, max: 100, windowMs: HOUR },
    { scope: `address:${net}`, max: 50, windowMs: 15 * MINUTE },
  ];
}

export interface LoginThrottle {
  /**
   * Counts the attempt as a failure in each of its scopes before the password is checked, in one
   * transaction holding the scopes' locks, so parallel attempts cannot all pass one count. Throws
   * 429 with Retry-After, counting nothing, when a scope is at its limit.
   */
  begin(attempt: SignInAttempt, now: number): Promise<Reservation>;
  /** The password was right: the attempt was no failure, and the pair's or device's failures are forgotten. */
  succeed(reservation: Reservation): Promise<void>;
  /**
   * Reserves one of the `perHour` accounts `address` may create an hour (0 = no limit: undefined);
   * throws 429 with Retry-After when none is left.
   */
  reserveSignup(address: string, perHour: number, now: number): Promise<Reservation | undefined>;
  /** The work reserved for did not happen: the place is free again. */
  release(reservation: Reservation | undefined): Promise<void>;
}

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

const tooManyAttempts = (seconds: number): AppError =>
  new AppError('too_many_attempts', 429, `Too many failed sign-in attempts. Try again in ${inMinutes(seconds)}.`, {
    'retry-after': String(seconds),
  });

const tooManySignups = (seconds: number): AppError =>
  new AppError(
    'too_many_signups',
    429,
    `Too many accounts were created from your network. Try again in ${inMinutes(seconds)}.`,
    { 'retry-after': String(seconds) },
  );

export function createLoginThrottle(db: Kysely<DB>): LoginThrottle {
  const gate = createGate(CONCURRENT_TRANSACTIONS);

  /** Counts one event in every scope of `limits` unless one is full; then throws `refuse(seconds)`. */
  async function reserve(limits: Limit[], now: number, refuse: (seconds: number) => AppError): Promise<string[]> {
    const ids = await gate(() =>
      inTransaction(db, async (trx) => {
        const longest = Math.max(...limits.map((limit) => limit.windowMs));
        const scopes = limits.map((limit) => limit.scope);
        await lockScopes(trx, scopes, now);
        const timesOf = await eventTimesByScope(trx, scopes, now - longest);
        let seconds = 0;
        for (const limit of limits) {
          const times = (timesOf.get(limit.scope) ?? []).filter((at) => at >= now - limit.windowMs);
          // Allowed again once enough of the oldest events have left the window.
          seconds = Math.max(seconds, secondsUntilFree(times, limit.max, limit.windowMs, now));
        }
        if (seconds > 0) throw refuse(seconds);
        const events = limits.map((limit) => ({ id: newId(), scope: limit.scope, at: now }));
        // Counted now, as if it failed; a sign-in that succeeds takes it back.
        await insertEvents(trx, events);
        return events.map((event) => event.id);
      }),
    );
    // Keep the tables small. Housekeeping only: a failure (a deadlock with a sign-in) waits for next time.
    if (Math.random() < 0.02) await pruneEvents(db, now - HOUR).catch(() => undefined);
    return ids;
  }

  return {
    async begin(attempt, now) {
      const limits = limitsOf(attempt);
      return { ids: await reserve(limits, now, tooManyAttempts), forgets: limits[0]!.scope };
    },
    async succeed(reservation) {
      await deleteEvents(db, reservation.ids, reservation.forgets);
    },
    async reserveSignup(address, perHour, now) {
      if (perHour <= 0) return undefined;
      const limit = { scope: `signup:${addressKey(address)}`, max: perHour, windowMs: HOUR };
      return { ids: await reserve([limit], now, tooManySignups) };
    },
    async release(reservation) {
      if (reservation) await deleteEvents(db, reservation.ids);
    },
  };
}

/** Runs at most `size` tasks at a time; the others wait in order. */
function createGate(size: number) {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async function run<T>(task: () => Promise<T>): Promise<T> {
    if (running < size) running++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      // The slot passes straight to the next in line, or is given back.
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}
