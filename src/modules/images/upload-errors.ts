import { AppError } from '../../lib/app-error.js';

/** The disk or the store has no room left: 507, and a message that says so to uploader and operator. */
export const outOfSpace = (cause?: unknown): AppError =>
  Object.assign(
    new AppError(
      'insufficient_storage',
      507,
      'The server is out of storage space, so this upload was not stored. Nothing was lost; try again later, ' +
        'and tell the administrator if it persists.',
      { 'retry-after': '300' },
    ),
    { cause },
  );

/** This process's staging budget is taken by uploads in progress: try again shortly. */
export const stagingFull = (): AppError =>
  new AppError(
    'server_busy',
    503,
    'The server is receiving as many uploads as it can hold right now. Try again in a minute.',
    { 'retry-after': '30' },
  );

/** An account already has as many uploads in progress as allowed. */
export const tooManyUploads = (limit: number): AppError =>
  new AppError(
    'too_many_uploads',
    429,
    `This account already has ${limit} uploads in progress. Wait for one to finish, then send the next.`,
    { 'retry-after': '5' },
  );

/**
 * The database connection was lost while the upload was being committed: it may or may not have
 * been saved. Its objects are kept (the sweeper removes them if it was not), so a saved photo is
 * never lost; sending it again is safe, as the same bytes are stored once.
 */
export const commitOutcomeUnknown = (cause: unknown): AppError =>
  Object.assign(
    new AppError(
      'upload_outcome_unknown',
      503,
      'The connection to the database was lost while saving this upload, so it may or may not have been saved. ' +
        'Reload the gallery to check; sending it again is safe.',
      { 'retry-after': '5' },
    ),
    { cause },
  );

/** The upload took so long after its request ended that its objects may already count as abandoned. */
export const uploadTooSlow = (): AppError =>
  new AppError(
    'upload_timed_out',
    503,
    'The server took too long to process this upload, so it was not stored. Try again with fewer files.',
    { 'retry-after': '30' },
  );
