import type { Metrics } from '../../http/metrics.js';
import { AppError } from '../../lib/app-error.js';
import type { ImageService, MediaResponse, NotModified } from '../../modules/images/image.service.js';

const QUOTA_CODES: Readonly<Record<string, string>> = {
  storage_quota_exceeded: 'storage',
  transfer_quota_exceeded: 'transfer',
};

/**
 * The image service with its traffic counted: images and bytes uploaded, bytes sent, and requests
 * refused for a quota. Wraps the real service where it runs (the storage service, or the one
 * embedded process), so each event is counted once whichever way the gateway reached it.
 */
export function instrumentImages(images: ImageService, metrics: Metrics): ImageService {
  // Label children made once: prom-client hashes and validates a label object on every inc() given one.
  const bytesIn = metrics.imageBytes.labels({ direction: 'in' });
  const media = countedMedia(images, metrics);
  return {
    ...images,
    assertCanUpload: (userId) => counted(metrics, images.assertCanUpload(userId)),
    async upload(userId, parts, options) {
      const uploaded = await counted(metrics, images.upload(userId, parts, options));
      for (const image of uploaded) {
        metrics.uploadedImages.inc({ result: image.duplicate ? 'duplicate' : 'stored' });
        bytesIn.inc(image.size);
      }
      return uploaded;
    },
    open: media.open,
    openCached: media.openCached,
  };
}

/**
 * Media opened with their bytes counted as sent, and quota refusals counted: where they are opened,
 * the image service, or in pod mode the gateway's own reads.
 */
export function countedMedia<T extends Pick<ImageService, 'open' | 'openCached'>>(media: T, metrics: Metrics): T {
  const bytesOut = metrics.imageBytes.labels({ direction: 'out' });
  const sent = (opened: MediaResponse | NotModified): MediaResponse | NotModified => {
    if (!opened.notModified) bytesOut.inc(opened.length);
    return opened;
  };
  const refused = (error: unknown): never => {
    countRefusal(metrics, error);
    throw error;
  };
  return {
    ...media,
    // One promise per request on the hot path: no async wrapper around the service's own.
    open: (userId, imageId, variant, options) => media.open(userId, imageId, variant, options).then(sent, refused),
    openCached(userId, imageId, variant, ifNoneMatch) {
      const opened = media.openCached(userId, imageId, variant, ifNoneMatch);
      return opened && sent(opened);
    },
  };
}

async function counted<T>(metrics: Metrics, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    countRefusal(metrics, error);
    throw error;
  }
}

/** Counts a refusal for a quota, by quota; any other error is not counted here. */
function countRefusal(metrics: Metrics, error: unknown): void {
  const quota = error instanceof AppError ? QUOTA_CODES[error.code] : undefined;
  if (quota) metrics.quotaRejections.inc({ quota });
}
