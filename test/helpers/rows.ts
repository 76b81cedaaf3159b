import { randomUUID } from 'node:crypto';

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
