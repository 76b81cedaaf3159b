import type { Image } from '../../api/images.js';
import { toIso } from '../../lib/time.js';
import type { ImageRow } from './image.repository.js';
import type { MediaUrlSigner } from './media-url.js';

/**
 * Maps an image row to the API's shape, with signed URLs of its three variants. The albums it is in
 * come from elsewhere (one query for a whole page): none unless given.
 */
export const imageDtoMapper =
  (signer: MediaUrlSigner) =>
  (row: ImageRow, albumIds: string[] = []): Image => ({
    id: row.id,
    filename: row.filename,
    mediaType: row.media_type,
    size: row.original_bytes,
    width: row.width,
    height: row.height,
    takenAt: toIso(row.taken_at),
    uploadedAt: toIso(row.uploaded_at),
    urls: {
      thumbnail: signer.url(row.owner_id, row.id, 'thumbnail'),
      preview: signer.url(row.owner_id, row.id, 'preview'),
      original: signer.url(row.owner_id, row.id, 'original'),
      download: signer.url(row.owner_id, row.id, 'original', { download: true }),
    },
    favorite: row.favorite === 1,
    albumIds,
  });
