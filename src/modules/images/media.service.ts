import type { Readable } from 'node:stream';

import type { Variant } from '../../api/images.js';
import { etagMatches } from '../../lib/etag.js';
import { notFound } from '../../lib/app-error.js';
import { ObjectNotFoundError, type ByteRange } from '../../storage/object-store.js';
import { transferQuotaOf } from '../usage/quota.js';
import type { StorageEvent } from '../usage/storage-event.repository.js';
import { appendEvents } from '../usage/storage-event.repository.js';
import { chargeDownload } from '../usage/transfer-charge.js';
import type { ImageServiceDeps } from './image-service-deps.js';
import { contentTypeOf, etagOf, objectKey, variantFilename, variantSize } from './image-objects.js';
import { ownedImageOrThrow, userOrThrow } from './lookups.js';

export interface MediaResponse {
  notModified: false;
  stream: Readable;
  contentType: string;
  /** Bytes in this response (the range, when one was asked for). */
  length: number;
  totalSize: number;
  range: ByteRange | undefined;
  etag: string;
  filename: string;
}

/** The answer to a conditional request whose ETag still matches: nothing was opened or charged. */
export interface NotModified {
  notModified: true;
  etag: string;
}

export interface OpenOptions {
  /** Asked with the variant's size before anything is opened or charged; what it throws fails the open. */
  range?: (size: number) => ByteRange | undefined;
  /** The request's If-None-Match header: when it matches, the answer is NotModified. */
  ifNoneMatch?: string;
}

/** What a variant would be served with, for a HEAD or a range that needs no body yet. */
export interface VariantInfo {
  etag: string;
  size: number;
  contentType: string;
}

export interface MediaService {
  /**
   * Opens one variant for sending, counting original and preview bytes against the daily transfer
   * quota (thumbnails are free, so the gallery always renders). One image lookup decides everything:
   * a matching `ifNoneMatch` answers NotModified before the range, the object or any charge.
   */
  open(userId: string, imageId: string, variant: Variant, options?: OpenOptions): Promise<MediaResponse | NotModified>;
  /** A variant's ETag, size and type, without opening or charging anything. */
  describe(userId: string, imageId: string, variant: Variant): Promise<VariantInfo>;
}

export function createMediaService(deps: ImageServiceDeps): MediaService {
  const { db, dialect, store, quotas } = deps;
  const now = deps.now ?? Date.now;

  /** Logs a sent variant and, unless it is a thumbnail, charges it to the owner's transfer of the day. */
  async function charge(event: StorageEvent, variant: Variant, filename: string): Promise<void> {
    if (variant === 'thumbnail') {
      // Free of quota, so nothing waits on the log: it is written in batches (or at once without a batcher).
      if (deps.thumbnailEvents) deps.thumbnailEvents.add(event);
      else await appendEvents(db, [event]);
      return;
    }
    // Read before the transaction: on SQLite a query outside it would wait for it forever.
    const quota = transferQuotaOf(await userOrThrow(db, event.user_id), quotas);
    await chargeDownload(db, dialect, event, quota, `"${filename}"`);
  }

  return {
    async describe(userId, imageId, variant) {
      const row = await ownedImageOrThrow(db, userId, imageId);
      return { etag: etagOf(row, variant), size: variantSize(row, variant), contentType: contentTypeOf(row, variant) };
    },

    async open(userId, imageId, variant, options = {}) {
      const row = await ownedImageOrThrow(db, userId, imageId);
      const etag = etagOf(row, variant);
      if (etagMatches(options.ifNoneMatch, etag)) return { notModified: true, etag };
      const totalSize = variantSize(row, variant);
      const range = options.range?.(totalSize);
      const length = range ? range.end - range.start + 1 : totalSize;
      const key = objectKey(row, variant);
      // A delete may remove the objects between the lookup above and this read: then it is not found.
      const stream = await store.get(key, range, totalSize).catch((error: unknown) => {
        throw error instanceof ObjectNotFoundError ? notFound() : error;
      });
      const event: StorageEvent = {
        at: now(),
        user_id: userId,
        image_id: row.id,
        operation: 'download',
        object_key: key,
        bytes: length,
        status: range ? 206 : 200,
      };
      try {
        await charge(event, variant, row.filename);
      } catch (error) {
        stream.destroy();
        throw error;
      }
      return {
        notModified: false,
        stream,
        contentType: contentTypeOf(row, variant),
        length,
        totalSize,
        range,
        etag,
        filename: variantFilename(row, variant),
      };
    },
  };
}
