import { notFound } from '../../lib/app-error.js';
import { setFavorite } from './image.repository.js';
import type { ImageServiceDeps } from './image-service-deps.js';
import { isImageId } from './media-url.js';

export interface FavoriteService {
  /** Marks (or unmarks) a photo of the gallery as a favourite; idempotent. */
  setFavorite(userId: string, imageId: string, favorite: boolean): Promise<void>;
}

export function createFavoriteService(deps: Pick<ImageServiceDeps, 'db'>): FavoriteService {
  return {
    async setFavorite(userId, imageId, favorite) {
      if (!isImageId(imageId) || !(await setFavorite(deps.db, userId, imageId, favorite))) throw notFound();
    },
  };
}
