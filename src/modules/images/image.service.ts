import { createGalleryService, type GalleryService } from './gallery.service.js';
import type { ImageServiceDeps } from './image-service-deps.js';
import { createMediaService, type MediaService } from './media.service.js';
import { createUploadService, type UploadService } from './upload.service.js';

export type { ImageServiceDeps } from './image-service-deps.js';
export type { MediaResponse, NotModified, OpenOptions, VariantInfo } from './media.service.js';
export type { UploadPart } from './upload.service.js';
export { objectKey } from './image-objects.js';

/** Everything the storage service does with images: uploads, the gallery, and serving their bytes. */
export interface ImageService extends UploadService, GalleryService, MediaService {}

/** The storage service's module: three services over one set of dependencies. */
export function createImageService(deps: ImageServiceDeps): ImageService {
  const gallery = createGalleryService(deps);
  const { forgetImage, forgetOwner, ...media } = createMediaService(deps);
  return {
    ...createUploadService(deps),
    ...gallery,
    ...media,
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
