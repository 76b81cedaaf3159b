import type { Album } from '../../api/albums.js';
import { toIso } from '../../lib/time.js';
import type { MediaUrlSigner } from '../images/media-url.js';
import type { AlbumRow, AlbumStats } from './album.repository.js';

/** Maps an album row, what it holds and its cover to the API's shape, with a signed thumbnail URL of the cover. */
export function toAlbumDto(
  row: AlbumRow,
  stats: AlbumStats | undefined,
  coverImageId: string | undefined,
  signer: MediaUrlSigner,
): Album {
  return {
    id: row.id,
    title: row.title,
    description: row.description,
    count: stats?.count ?? 0,
    coverImageId: row.cover_image_id,
    coverUrl: coverImageId === undefined ? null : signer.url(row.owner_id, coverImageId, 'thumbnail'),
    firstTakenAt: stats?.firstTakenAt == null ? null : toIso(stats.firstTakenAt),
    lastTakenAt: stats?.lastTakenAt == null ? null : toIso(stats.lastTakenAt),
    createdAt: toIso(row.created_at),
    updatedAt: toIso(row.updated_at),
    activityAt: toIso(row.activity_at),
  };
}
