import { isNetworkError } from '../lib/network-errors.js';

/** The code of the error the MySQL pool gives when no connection came free in time (dialects/mysql.ts). */
export const POOL_ACQUIRE_TIMEOUT = 'POOL_ACQUIRE_TIMEOUT';

/** Codes, beyond the network's own, of a database that is restarting, overloaded or locked. */
const UNAVAILABLE_CODES: ReadonlySet<string> = new Set([
  POOL_ACQUIRE_TIMEOUT,
  // mysql2
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_TOO_MANY_USER_CONNECTIONS',
  'ER_SERVER_SHUTDOWN',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_LOCK_DEADLOCK',
  // PostgreSQL SQLSTATEs
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, in recovery)
  '53300', // too_many_connections
  '08000', // connection_exception
  '08001', // sqlclient_unable_to_establish_sqlconnection
  '08003', // connection_does_not_exist
  '08006', // connection_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
  // SQLite: another process held the write lock for longer than the busy timeout
  'SQLITE_BUSY',
  'SQLITE_BUSY_SNAPSHOT',
  'SQLITE_BUSY_TIMEOUT',
  'SQLITE_LOCKED',
]);

/** Messages of errors that drivers raise without a code. */
const UNAVAILABLE_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|connect ECONNREFUSED|Can't add new command when connection is in closed state|Client has encountered a connection error|Connection lost|Pool is closed/i;

interface DriverError {
  code?: unknown;
  errno?: unknown;
  message?: unknown;
  errors?: unknown;
  cause?: unknown;
}

/**
 * True when an error means the database is unreachable, restarting or overloaded, so the request may
 * succeed later (answer 503), rather than a bad query (500).
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (isNetworkError(error)) return true;
  const err = error as DriverError | null | undefined;
  if (err === null || typeof err !== 'object') return false;
  if (typeof err.code === 'string' && UNAVAILABLE_CODES.has(err.code)) return true;
  if (Array.isArray(err.errors) && err.errors.some(isDatabaseUnavailable)) return true;
  if (err.cause !== undefined && err.cause !== error && isDatabaseUnavailable(err.cause)) return true;
  return typeof err.message === 'string' && UNAVAILABLE_MESSAGE.test(err.message);
}

const UNIQUE_VIOLATION_CODES: ReadonlySet<string> = new Set([
  'SQLITE_CONSTRAINT_UNIQUE',
  'SQLITE_CONSTRAINT_PRIMARYKEY',
  'ER_DUP_ENTRY',
  '23505', // PostgreSQL unique_violation
]);

/** True for a unique-constraint violation on any dialect. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as DriverError | null | undefined)?.code;
  return typeof code === 'string' && UNIQUE_VIOLATION_CODES.has(code);
}

/**
 * True when the database aborted a transaction to break a deadlock or a serialization conflict, so
 * running it again may succeed: MySQL's ER_LOCK_DEADLOCK (errno 1213); PostgreSQL's deadlock_detected
 * and serialization_failure.
 */
export function isTransactionConflict(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { errno, code } = error as DriverError;
  return errno === 1213 || code === '40P01' || code === '40001';
}
