import type { Readable } from 'node:stream';

import type { Variant } from '../../api/images.js';
import { inTransaction } from '../../db/transaction.js';
import { AppError, notFound, unauthorized } from '../../lib/app-error.js';
import { utcDay } from '../../lib/time.js';
import { locationPatcher, locationStripper, LOCATION_STRIPPABLE, type BytePatch } from '../../image/location-strip.js';
import { mp4LocationStripper } from '../../video/mp4-location.js';
import { findUserById } from '../auth/user.repository.js';
import { objectKey, variantFilename, variantSize } from '../images/image-objects.js';
import type { ImageRow } from '../images/image.repository.js';
import { isImageId } from '../images/media-url.js';
import { transferExceeded } from '../usage/quota-errors.js';
import { transferQuotaOf } from '../usage/quota.js';
import { appendEvents } from '../usage/storage-event.repository.js';
import { reserveTransfer, transferOfDay } from '../usage/transfer.repository.js';
import { ownerQuotaResting, shareAccess } from './share-access.js';
import type { ShareServiceDeps } from './share-deps.js';
import { findOwnedImages, listSharedImages } from './share.repository.js';
import { canPatchHeif, canStripVideo, createLocationPlans } from './location-plans.js';
import { zipArchive } from './zip-archive.js';

/** A ZIP being streamed, with its exact size when known and the name to save it under. */
export interface Archive {
  stream: Readable;
  length: number | undefined;
  filename: string;
}

export interface ArchiveService {
  /** A ZIP of the owner's originals, byte for byte. */
  archiveImages(ownerId: string, ids: readonly string[]): Promise<Archive>;
  /** A ZIP of a link's photos: originals without their location, or previews where it cannot be removed. */
  archiveShared(key: string, request: { exp?: string; sig?: string }): Promise<Archive>;
}

/** Photos one link's ZIP holds at most. */
const MAX_SHARED_ARCHIVE = 10_000;

interface Part {
  row: ImageRow;
  variant: Variant;
  /** A photo's location removed as it streams; a video's boxes renamed `free`, or a HEIC's patches. */
  strip: boolean | { boxes: readonly number[] } | { patches: readonly BytePatch[] };
}

/**
 * ZIP downloads. The whole archive is charged to the owner's transfer of the day before its first
 * byte, in one transaction with one event per photo: refused up front (429) when it does not fit,
 * so a ZIP is never cut off by the quota halfway. A download the client abandons stays charged.
 */
export function createArchiveService(deps: ShareServiceDeps): ArchiveService {
  const { db, dialect, store } = deps;
  const now = deps.now ?? Date.now;
  const access = shareAccess(deps);
  const plans = createLocationPlans(store);

  /** What of a shared photo or video goes in the ZIP: its original without location, or its preview. */
  async function sharedPart(row: ImageRow): Promise<Part> {
    if (canStripVideo(row)) {
      // Walked before the ZIP starts: one that cannot be is its preview, and the sizes stay exact.
      const offsets = await plans.videoBoxes(row);
      return offsets
        ? { row, variant: 'original', strip: { boxes: offsets } }
        : { row, variant: 'preview', strip: false };
    }
    if (canPatchHeif(row)) {
      const patches = await plans.heifPatches(row);
      return patches ? { row, variant: 'original', strip: { patches } } : { row, variant: 'preview', strip: false };
    }
    const strip = (LOCATION_STRIPPABLE as readonly string[]).includes(row.media_type);
    return { row, variant: strip ? 'original' : 'preview', strip };
  }

  async function charge(
    ownerId: string,
    quota: number,
    parts: Part[],
    refuse: (used: number, sum: number) => AppError,
  ) {
    const at = now();
    const day = utcDay(at);
    const sum = parts.reduce((total, part) => total + variantSize(part.row, part.variant), 0);
    const charged = await inTransaction(db, async (trx) => {
      if (!(await reserveTransfer(trx, dialect, ownerId, day, 'out', sum, quota))) return false;
      await appendEvents(
        trx,
        parts.map((part) => ({
          at,
          user_id: ownerId,
          image_id: part.row.id,
          operation: 'download' as const,
          object_key: objectKey(part.row, part.variant),
          bytes: variantSize(part.row, part.variant),
          status: 200,
        })),
      );
      return true;
    });
    if (!charged) {
      const today = await transferOfDay(db, ownerId, day);
      throw refuse(today.bytesIn + today.bytesOut, sum);
    }
  }

  function zipOf(parts: Part[], filename: string): Archive {
    const { stream, length } = zipArchive(
      parts.map(({ row, variant, strip }) => ({
        name: variantFilename(row, variant),
        size: variantSize(row, variant),
        mtime: row.taken_at,
        async open() {
          const bytes = await store.get(objectKey(row, variant), undefined, variantSize(row, variant));
          if (strip === false) return bytes;
          const stripped = bytes.pipe(
            strip === true
              ? locationStripper(row.media_type)!
              : 'boxes' in strip
                ? mp4LocationStripper(strip.boxes, 0)
                : locationPatcher(strip.patches, 0),
          );
          bytes.on('error', (error) => stripped.destroy(error));
          return stripped;
        },
      })),
    );
    return { stream, length, filename };
  }

  return {
    async archiveImages(ownerId, ids) {
      const unique = [...new Set(ids)];
      if (!unique.every(isImageId)) throw notFound();
      const rows = await findOwnedImages(db, ownerId, unique);
      // Another account's id, or one deleted meanwhile: 404, and nothing is charged.
      if (rows.length !== unique.length) throw notFound();
      const owner = await findUserById(db, ownerId);
      if (!owner) throw unauthorized();
      const quota = transferQuotaOf(owner, deps.quotas);
      const byId = new Map(rows.map((row) => [row.id, row]));
      const parts = unique.map((id) => ({ row: byId.get(id)!, variant: 'original' as const, strip: false }));
      await charge(ownerId, quota, parts, (used, sum) =>
        transferExceeded(now(), quota, used, sum, `a ZIP of ${parts.length} photo${parts.length === 1 ? '' : 's'}`),
      );
      return zipOf(parts, `pixa-${utcDay(now())}.zip`);
    },

    async archiveShared(key, request) {
      const share = await access.resolve(key);
      deps.signer.checkMedia(share.seal, '', 'archive', request.exp, request.sig);
      if (share.row.allow_download !== 1) {
        throw new AppError('download_not_allowed', 403, 'The owner of this link does not allow downloads.');
      }
      const rows = await listSharedImages(db, share.row, MAX_SHARED_ARCHIVE, undefined);
      const parts: Part[] = [];
      // One at a time: a video's moov is read whole (at most 64 MB), a HEIC's meta and Exif (at most 1 MB each).
      for (const row of rows) parts.push(await sharedPart(row));
      await charge(share.row.owner_id, share.quota, parts, () => ownerQuotaResting(now()));
      const title =
        (share.row.title ?? share.album?.title ?? 'shared-photos').replace(/[^\p{L}\p{N} ._-]/gu, '').trim() ||
        'shared-photos';
      return zipOf(parts, `${title}.zip`);
    },
  };
}
