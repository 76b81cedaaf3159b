import { randomUUID } from 'node:crypto';

import type { UserRow } from '../../src/modules/auth/user.repository.js';
import type { ImageRow } from '../../src/modules/images/image.repository.js';

/**
 * An image row as an upload of a 12 MP JPEG writes it, for repository and sweeper tests that put
 * rows in directly; `overrides` sets what a test depends on.
 */
export function imageRow(ownerId: string, overrides: Partial<ImageRow> = {}): ImageRow {
  const id = overrides.id ?? randomUUID();
  const at = Date.UTC(2026, 10, 28, 12, 0, 0);
  return {
    id,
    owner_id: ownerId,
    sha256: randomUUID().replace(/-/g, '').repeat(2),
    filename: 'IMG_0001.jpg',
    media_type: 'image/jpeg',
    original_bytes: 695_070,
    thumbnail_bytes: 12_000,
    preview_bytes: 150_000,
    width: 4032,
    height: 3024,
    orientation: 1,
    taken_at: at,
    uploaded_at: at,
    object_prefix: `${ownerId}/${id}/`,
    favorite: 0,
    trashed_at: null,
    kind: 'photo',
    duration_ms: null,
    playback_type: null,
    playback_state: null,
    playback_bytes: 0,
    ...overrides,
  };
}

/** An account row as registration writes it, with a fresh id and name, for tests that put rows in directly. */
export function userRow(overrides: Partial<UserRow> = {}): UserRow {
  const name = `user_${randomUUID().slice(0, 8)}`;
  return {
    id: randomUUID(),
    username: name,
    username_key: name.toLowerCase(),
    password_hash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
    role: 'user',
    storage_quota_bytes: null,
    daily_transfer_bytes: null,
    storage_used_bytes: 0,
    storage_reserved_bytes: 0,
    created_at: Date.UTC(2026, 10, 28, 12, 0, 0),
    ...overrides,
  };
}
