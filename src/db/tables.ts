import type { Generated } from 'kysely';

/**
 * Row types of every table. Times are epoch milliseconds and sizes are bytes, both stored as BIGINT
 * so that all three dialects sort and compare them the same way; drivers may return BIGINT as a
 * string, so repositories convert with Number() when they map rows.
 */
export interface UsersTable {
  id: string;
  username: string;
  /** Lower-cased username: the unique key, so names are unique without regard to case. */
  username_key: string;
  password_hash: string;
  role: 'user' | 'admin';
  /** Per-account overrides; NULL means the configured default. 0 means unlimited. */
  storage_quota_bytes: number | null;
  daily_transfer_bytes: number | null;
  /** Bytes of originals and derivatives stored, kept exact in the transaction of every insert/delete. */
  storage_used_bytes: number;
  /** Bytes held for resumable uploads in progress: counted against the quota, not yet stored. */
  storage_reserved_bytes: Generated<number>;
  created_at: number;
}

export interface SessionsTable {
  /** The token's `jti`. */
  id: string;
  user_id: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
}

export interface ImagesTable {
  id: string;
  owner_id: string;
  sha256: string;
  filename: string;
  media_type: string;
  original_bytes: number;
  thumbnail_bytes: number;
  preview_bytes: number;
  width: number;
  height: number;
  orientation: number;
  taken_at: number;
  uploaded_at: number;
  /** Prefix of the image's objects: `<owner>/<image>/`; the object names follow it. */
  object_prefix: string;
  /** 1 when the owner marked it a favourite, else 0. */
  favorite: number;
  /** When it was moved to the trash; NULL while it is in the gallery. Its objects and storage stay until purged. */
  trashed_at: number | null;
  kind: 'photo' | 'video';
  /** A video's duration; NULL for photos. */
  duration_ms: number | null;
  /** A video's type with its codec, as a browser's canPlayType is asked (`video/mp4; codecs="hvc1…"`). */
  playback_type: string | null;
  /** A video's playback copy: not needed (`original`), being made, made, or given up; NULL for photos. */
  playback_state: 'original' | 'preparing' | 'ready' | 'failed' | null;
  /** Bytes of the playback copy (0 until it is made); counted in the owner's storage. */
  playback_bytes: number;
}

export interface AlbumsTable {
  id: string;
  owner_id: string;
  title: string;
  description: string;
  /** The cover the owner chose; NULL means the newest photo in the album. */
  cover_image_id: string | null;
  created_at: number;
  updated_at: number;
  /** Creation or the last time photos were added: albums are listed by it, newest first. */
  activity_at: number;
}

/** One photo in one album. `taken_at` is the image's (it never changes), so an album pages from this table's index. */
export interface AlbumImagesTable {
  album_id: string;
  image_id: string;
  taken_at: number;
  added_at: number;
}

export interface StorageEventsTable {
  id: string;
  at: number;
  user_id: string;
  image_id: string | null;
  operation: 'upload' | 'download' | 'delete';
  object_key: string;
  bytes: number;
  status: number;
}

/**
 * Daily per-account totals of storage events older than the retention period, which the roll-up
 * folds in here and deletes from the log. `bytes` counts successful events (status below 300), as
 * the log's own sums do; `events` counts them all.
 */
export interface StorageEventDaysTable {
  user_id: string;
  /** UTC day, `YYYY-MM-DD`. */
  day: string;
  operation: 'upload' | 'download' | 'delete';
  events: number;
  bytes: number;
}

export interface TransferDailyTable {
  user_id: string;
  day: string;
  bytes_in: number;
  bytes_out: number;
  /** Bytes held for resumable uploads created this day: counted against the quota, not yet received. */
  bytes_reserved: Generated<number>;
}

/** A resumable (tus) upload: its length, what it received, what it reserved, and how it ended. */
export interface UploadsTable {
  id: string;
  owner_id: string;
  filename: string;
  /** SHA-256 of the whole file as the client announced it, if it did. */
  sha256: string | null;
  length: number;
  received_bytes: number;
  /** Storage and transfer held until the upload ends, and the UTC day the transfer was held on. */
  reserved_storage: number;
  reserved_transfer: number;
  reserved_day: string;
  state: 'open' | 'processing' | 'done' | 'refused';
  /** JSON: the image once done, the error `{status, code, message}` once refused. */
  result: string | null;
  created_at: number;
  updated_at: number;
  expires_at: number;
}

/** A stored run of an upload's bytes, from `start`, in the object at `object_key`. */
export interface UploadPartsTable {
  upload_id: string;
  start: number;
  bytes: number;
  object_key: string;
}

/** Failed sign-ins and created accounts, counted by the throttles per scope and time window. */
export interface ThrottleEventsTable {
  id: string;
  scope: string;
  at: number;
}

/** A throttle scope's lock: a request locks the rows of its scopes before counting their events. */
export interface ThrottleScopesTable {
  scope: string;
  /** The last time a request locked the row; rows untouched for an hour are pruned. */
  touched_at: number;
}

/** The background job queue: a worker takes a job with a conditional UPDATE and holds it for a lease. */
export interface JobsTable {
  id: string;
  kind: string;
  /** JSON. */
  payload: string;
  state: 'queued' | 'running' | 'done' | 'dead';
  /** Times the job was taken (a worker that died mid-job counts). */
  attempts: number;
  /** Not taken before this time: the back-off after a failure. */
  run_after: number;
  locked_by: string | null;
  /** A running job whose lease ended is taken again by any worker. */
  locked_until: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

/** A share link. The key is only ever shown once; `key_hash` is its SHA-256 (hex). Flags are 0/1. */
export interface SharesTable {
  id: string;
  owner_id: string;
  key_hash: string;
  /** The shared album; NULL for a link to chosen photos (`share_images`). */
  album_id: string | null;
  title: string | null;
  description: string | null;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  /** argon2id of the link's password; NULL when the link has none. */
  password_hash: string | null;
  allow_download: number;
  show_metadata: number;
  show_owner: number;
  view_count: number;
  last_access_at: number | null;
}

/** The photos of a link to chosen photos. */
export interface ShareImagesTable {
  share_id: string;
  image_id: string;
}

export interface DB {
  users: UsersTable;
  sessions: SessionsTable;
  images: ImagesTable;
  albums: AlbumsTable;
  album_images: AlbumImagesTable;
  storage_events: StorageEventsTable;
  storage_event_days: StorageEventDaysTable;
  transfer_daily: TransferDailyTable;
  throttle_events: ThrottleEventsTable;
  throttle_scopes: ThrottleScopesTable;
  uploads: UploadsTable;
  upload_parts: UploadPartsTable;
  jobs: JobsTable;
  shares: SharesTable;
  share_images: ShareImagesTable;
}
