import type { Image } from '../../api/images.js';
import { albumIdsOfImages } from '../albums/album.repository.js';
import { createFavoriteService, type FavoriteService } from './favorite.service.js';
import { createGalleryService, type GalleryService } from './gallery.service.js';
import type { ImageServiceDeps } from './image-service-deps.js';
import { createMediaService, type MediaCacheControl, type MediaService } from './media.service.js';
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

/** What reading the gallery runs on: the database, the object store, the media URL signer, the quotas. */
export type ImageReadDeps = Pick<
  ImageServiceDeps,
  'db' | 'dialect' | 'store' | 'signer' | 'quotas' | 'thumbnailEvents' | 'now'
>;

/**
 * Reading the gallery: its pages and photos with the albums each is in, and their bytes (charged to the
 * transfer quota as they are opened), with control of the media cache for deletes made elsewhere in
 * the process. The storage service runs it as part of the image service; in pod mode the gateway runs
 * one of its own over the shared database and store, so that a page or a thumbnail crosses no
 * internal hop (see createGatewayReads).
 */
export interface ImageReads extends Pick<GalleryService, 'list' | 'get'>, MediaService, MediaCacheControl {
  /** The images with the albums each is in, read for all of them in one query. */
  withAlbums<T extends Image>(items: T[]): Promise<T[]>;
}

export function createImageReads(deps: ImageReadDeps): ImageReads {
  const gallery = createGalleryService(deps);

  /** The images with the albums each is in, read for all of them in one query. */
  async function withAlbums<T extends Image>(items: T[]): Promise<T[]> {
    const albums = await albumIdsOfImages(
      deps.db,
      items.map((item) => item.id),
    );
    return items.map((item) => ({ ...item, albumIds: albums.get(item.id) ?? [] }));
  }

  return {
    ...createMediaService(deps),
    withAlbums,
    async list(userId, limit, cursor, favorite) {
      const page = await gallery.list(userId, limit, cursor, favorite);
      return { ...page, items: await withAlbums(page.items) };
    },
    async get(userId, imageId) {
      const [image] = await withAlbums([await gallery.get(userId, imageId)]);
      return image!;
    },
  };
}

/** The storage service's module: its services over one set of dependencies. */
export function createImageService(deps: ImageServiceDeps): ImageService {
  const gallery = createGalleryService(deps);
  const { forgetImage, forgetOwner, withAlbums, ...reads } = createImageReads(deps);
  const upload = createUploadService(deps);

  return {
    ...upload,
    ...gallery,
    ...reads,
    ...createFavoriteService(deps),
    ...createTrashService(deps, forgetImage),
    // A photo uploaded again may be in albums already (or come back from the trash into them).
    async upload(userId, parts, options) {
      return withAlbums(await upload.upload(userId, parts, options));
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
