import type { Readable } from 'node:stream';

/** Metadata the store keeps about one object. */
export interface ObjectInfo {
  key: string;
  size: number;
  /** Last modification time, epoch milliseconds. */
  modifiedAt: number;
}

/** An inclusive byte range, as in an HTTP `Range: bytes=start-end` header. */
export interface ByteRange {
  start: number;
  end: number;
}

/** Throws a RangeError for a range no store can serve: not whole numbers, negative, or end before start. */
export function assertRange(range: ByteRange): void {
  const whole = Number.isSafeInteger(range.start) && Number.isSafeInteger(range.end);
  if (!whole || range.start < 0 || range.end < range.start) {
    throw new RangeError(`invalid byte range ${range.start}-${range.end}`);
  }
}

export interface PutOptions {
  contentType?: string;
  /** Size in bytes when known up front; drivers may use it to pick single-shot vs multipart upload. */
  size?: number;
}

/**
 * Where image bytes live. Keys are `/`-separated relative paths made by Pixa (never from user input).
 *
 * Every driver must:
 * - stream both ways (never hold a whole object in memory);
 * - write atomically: a reader sees either no object or the complete object, never a partial one;
 * - throw `ObjectNotFoundError` for a missing key and `StoreUnavailableError` when the backend
 *   cannot be reached, so callers can answer 404 and 503 alike for every driver.
 */
export interface ObjectStore {
  /** A short name for logs and metrics: `fs`, `s3`, `azure`. */
  readonly kind: string;
  put(key: string, body: Readable | Buffer, options?: PutOptions): Promise<void>;
  /**
   * Stores the local file at `file` under `key`, as atomically as `put`, leaving `file` itself in
   * place. Optional: a driver that can do better than streaming the file (the file store links it)
   * implements it; callers fall back to `put` with a stream of the file.
   */
  putFile?(key: string, file: string, options?: PutOptions): Promise<void>;
  /**
   * A stream of the object's bytes, or of the inclusive range. Throws ObjectNotFoundError.
   * `knownSize`, when the caller has it (from the image row), spares a wrapper like the small object
   * cache a `stat` to learn it; drivers ignore it.
   */
  get(key: string, range?: ByteRange, knownSize?: number): Promise<Readable>;
  /** Size and time of the object, or `undefined` when it does not exist. */
  stat(key: string): Promise<ObjectInfo | undefined>;
  /** Removes the object; removing a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Every object whose key starts with `prefix`, in any order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /**
   * Removes leftovers of interrupted writes (temp files, uncommitted blocks, aborted multipart uploads)
   * older than `olderThanMs`. Returns how many it removed.
   */
  cleanupIncomplete(olderThanMs: number): Promise<number>;
  /** Throws StoreUnavailableError when the backend cannot be reached. Used by readiness probes. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class ObjectNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`object not found: ${key}`);
    this.name = 'ObjectNotFoundError';
  }
}

export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}
