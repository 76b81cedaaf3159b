import type { Image } from '../../api/images.js';
import { albumIdsOfImages } from '../albums/album.repository.js';
import { createFavoriteService, type FavoriteService } from './favorite.service.js';
import { createGalleryService, type GalleryService } from './gallery.service.js';
import type { ImageServiceDeps } from './image-service-deps.js';
import { createMediaService, type MediaService } from './media.service.js';
import { createTrashService, type TrashPurge, type TrashService } from './trash.service.js';
import { createUploadService, type UploadService } from './upload.service.js';

export type { ImageServiceDeps } from './image-service-deps.js';
export type { MediaResponse, NotModified, OpenOptions, VariantInfo } from './media.service.js';
export type { UploadPart } from './upload.service.js';
export { objectKey } from './image-objects.js';

/**
 * Everything the storage service does with images: uploads, the gallery, favourites, the trash, and
 * serving their bytes.
 */
export interface ImageService
  extends UploadService, GalleryService, MediaService, TrashService, FavoriteService, TrashPurge {}

/** The storage service's module: its services over one set of dependencies. */
export function createImageService(deps: ImageServiceDeps): ImageService {
  const gallery = createGalleryService(deps);
  const { forgetImage, forgetOwner, ...media } = createMediaService(deps);
  const upload = createUploadService(deps);

  /** The images with the albums each is in, read for all of them in one query. */
  async function withAlbums<T extends Image>(items: T[]): Promise<T[]> {
    const albums = await albumIdsOfImages(
      deps.db,
      items.map((item) => item.id),
    );
    return items.map((item) => ({ ...item, albumIds: albums.get(item.id) ?? [] }));
  }

  return {
    ...upload,
    ...gallery,
    ...media,
    ...createFavoriteService(deps),
    ...createTrashService(deps, forgetImage),
    // A photo uploaded again may be in albums already (or come back from the trash into them).
    async upload(userId, parts, options) {
      return withAlbums(await upload.upload(userId, parts, options));
    },
    async list(userId, limit, cursor, favorite) {
      const page = await gallery.list(userId, limit, cursor, favorite);
      return { ...page, items: await withAlbums(page.items) };
    },
    async get(userId, imageId) {
      const [image] = await withAlbums([await gallery.get(userId, imageId)]);
      return image!;
    },
    // The media cache forgets a deleted image here at once; other replicas within its TTL.
    async remove(userId, imageId) {
      try {
        await gallery.remove(userId, imageId);
      } finally {
        forgetImage(imageId);
      }
    },
    async removeAll(userId) {
      try {
        return await gallery.removeAll(userId);
      } finally {
        forgetOwner(userId);
      }
    },
  };
}
