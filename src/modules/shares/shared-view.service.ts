import type { Transform } from 'node:stream';

import type { SharedItem, SharedPage, ShareToken } from '../../api/shares.js';
import type { Variant } from '../../api/images.js';
import { AppError } from '../../lib/app-error.js';
import { etagMatches } from '../../lib/etag.js';
import { toIso } from '../../lib/time.js';
import { locationPatcher, locationStripper, LOCATION_STRIPPABLE } from '../../image/location-strip.js';
import type { ByteRange } from '../../storage/object-store.js';
import { mp4LocationStripper } from '../../video/mp4-location.js';
import { verifyPassword } from '../auth/password.js';
import { decodeCursor, encodeCursor } from '../images/cursor.js';
import type { ImageRow } from '../images/image.repository.js';
import { mediaResponse, type MediaResponse, type NotModified } from '../images/media.service.js';
import { isImageId } from '../images/media-url.js';
import { isTransferRefusal, ownerQuotaResting, shareAccess, type OpenShare } from './share-access.js';
import type { ShareServiceDeps } from './share-deps.js';
import { findOwnedShare, findSharedImage, listSharedImages, recordVisit } from './share.repository.js';
import { canPatchHeif, canStripVideo, createLocationPlans } from './location-plans.js';

/** A shared photo's media, with the variant actually served (the preview for an original whose location stays). */
export type SharedMedia = (MediaResponse & { servedAs: Variant }) | NotModified;

/**
 * A Range header of a shared video: passed on as it is in pod mode, resolved against the size where
 * the bytes are (`resolve` throws the 416 of an unsatisfiable range).
 */
export interface SharedRange {
  header: string;
  resolve(size: number): ByteRange | undefined;
}

export interface SharedMediaRequest {
  exp?: string;
  sig?: string;
  ifNoneMatch?: string;
  /** Honoured for a video (its `playback` stream or its original); other media are sent whole. */
  range?: SharedRange;
}

/** What a visitor without an account does with a link. */
export interface SharedViewService {
  /** The link's page of photos; `token` is the unlock token of a password-protected link. */
  viewShare(key: string, token: string | undefined, limit: number, cursor: string | undefined): Promise<SharedPage>;
  unlockShare(key: string, password: string, address: string): Promise<ShareToken>;
  openShared(key: string, imageId: string, variant: Variant, request: SharedMediaRequest): Promise<SharedMedia>;
}

const canStrip = (mediaType: string): boolean => (LOCATION_STRIPPABLE as readonly string[]).includes(mediaType);
/** Whether a shared video plays: from its playback copy (made without metadata) or its original without location. */
const playable = (row: ImageRow): boolean =>
  row.kind === 'video' && (row.playback_state === 'ready' || canStripVideo(row));

export function createSharedViewService(deps: ShareServiceDeps): SharedViewService {
  const { db, signer, media, store } = deps;
  const now = deps.now ?? Date.now;
  const access = shareAccess(deps);
  const plans = createLocationPlans(store);

  function requirePassword(share: OpenShare, token: string | undefined): void {
    if (share.row.password_hash !== null && !signer.tokenOpens(share.seal, token)) {
      throw new AppError('password_required', 401, 'This link is protected by a password. Enter it to see the photos.');
    }
  }

  function itemOf(key: string, share: OpenShare, row: ImageRow): SharedItem {
    const url = (variant: Variant, download?: boolean) =>
      signer.mediaUrl(key, share.seal, row.id, variant, { download });
    const metadata = share.row.show_metadata === 1;
    const downloads = share.row.allow_download === 1;
    return {
      id: row.id,
      width: row.width,
      height: row.height,
      mediaType: row.media_type,
      kind: row.kind,
      durationMs: row.kind === 'video' ? row.duration_ms : null,
      ...(metadata ? { filename: row.filename, takenAt: toIso(row.taken_at) } : {}),
      urls: {
        thumbnail: url('thumbnail'),
        preview: url('preview'),
        // Playing is viewing, like the preview: not governed by allowDownload.
        ...(playable(row) ? { video: url('playback') } : {}),
        ...(downloads ? { original: url('original'), download: url('original', true) } : {}),
      },
      downloadServes: canStrip(row.media_type) || canStripVideo(row) || canPatchHeif(row) ? 'original' : 'preview',
    };
  }

  /** Opens a variant as its owner would, charged to the owner; their quota refusing it is the link resting. */
  async function openAsOwner(row: ImageRow, variant: Variant, ifNoneMatch: string | undefined, range?: SharedRange) {
    try {
      return await media.open(row.owner_id, row.id, variant, { ifNoneMatch, range: range?.resolve });
    } catch (error) {
      if (isTransferRefusal(error)) throw ownerQuotaResting(now());
      throw error;
    }
  }

  /** How a range of this original (from `start`) is rewritten without its location; undefined: it cannot be. */
  async function plannedRewrite(row: ImageRow): Promise<((start: number) => Transform) | undefined> {
    if (canStripVideo(row)) {
      const offsets = await plans.videoBoxes(row);
      return offsets && ((start) => mp4LocationStripper(offsets, start));
    }
    const patches = await plans.heifPatches(row);
    return patches && ((start) => locationPatcher(patches, start));
  }

  /**
   * A video's or HEIC's original (or a range of it) rewritten in place without its location (a
   * video's metadata boxes renamed `free`, a HEIC's Exif GPS emptied): same length, so ranges and the
   * owner's charge are those of the original. One whose structure cannot be read is served as its
   * preview, as before.
   */
  async function openPlanned(row: ImageRow, request: SharedMediaRequest): Promise<SharedMedia> {
    const etag = `"${row.sha256}-shared"`;
    if (etagMatches(request.ifNoneMatch, etag)) return { notModified: true, etag };
    const rewrite = await plannedRewrite(row);
    if (!rewrite) {
      const opened = await openAsOwner(row, 'preview', request.ifNoneMatch);
      return opened.notModified ? opened : Object.assign(opened, { servedAs: 'preview' as const });
    }
    const opened = await openAsOwner(row, 'original', undefined, request.range);
    if (opened.notModified) return opened;
    const stream = opened.stream.pipe(rewrite(opened.range?.start ?? 0));
    opened.stream.on('error', (error) => stream.destroy(error));
    const { contentType, length, totalSize, range, filename } = opened;
    return Object.assign(mediaResponse({ contentType, length, totalSize, range, etag, filename }, undefined, stream), {
      servedAs: 'original' as const,
    });
  }

  return {
    async viewShare(key, token, limit, cursor) {
      const share = await access.resolve(key);
      requirePassword(share, token);
      await access.assertNotResting(share);
      const after = cursor === undefined ? undefined : decodeCursor(cursor);
      const rows = await listSharedImages(db, share.row, limit + 1, after);
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      // A visit is the first page: later pages of the same visit are not counted again.
      if (cursor === undefined) await recordVisit(db, share.row.id, now());
      const { row } = share;
      const downloads = row.allow_download === 1;
      const title = row.title ?? share.album?.title ?? 'Shared photos';
      const description = row.description ?? share.album?.description;
      return {
        title,
        ...(description ? { description } : {}),
        ...(row.show_owner === 1 ? { owner: share.owner.username } : {}),
        imageCount: await countOf(share),
        allowDownload: downloads,
        expiresAt: row.expires_at === null ? null : toIso(row.expires_at),
        ...(downloads ? { archiveUrl: signer.archiveUrl(key, share.seal) } : {}),
        items: page.map((image) => itemOf(key, share, image)),
        nextCursor: rows.length > limit && last ? encodeCursor({ takenAt: last.taken_at, id: last.id }) : null,
      };
    },

    async unlockShare(key, password, address) {
      const share = await access.resolve(key);
      if (share.row.password_hash === null) return tokenOf(share);
      // Counted like a sign-in (per link and address, per link, per address) before the check.
      const reservation = await deps.throttle.begin({ account: `share:${share.row.id}`, address }, now());
      if (!(await verifyPassword(share.row.password_hash, password))) {
        throw new AppError('wrong_password', 401, 'That is not the password of this link.');
      }
      await deps.throttle.succeed(reservation);
      return tokenOf(share);
    },

    async openShared(key, imageId, variant, request) {
      const share = await access.resolve(key);
      signer.checkMedia(share.seal, imageId, variant, request.exp, request.sig);
      if (variant === 'original' && share.row.allow_download !== 1) {
        throw new AppError('download_not_allowed', 403, 'The owner of this link does not allow downloads.');
      }
      const row = isImageId(imageId) ? await findSharedImage(db, share.row, imageId) : undefined;
      if (!row) throw new AppError('not_found', 404, 'This photo is not shared by this link.');

      if (variant === 'playback') {
        if (!playable(row)) throw new AppError('not_found', 404, 'This video cannot be played from this link.');
        // The copy is made with no metadata at all; the original only when no copy is ready.
        if (row.playback_state !== 'ready') return openPlanned(row, request);
        const opened = await openAsOwner(row, 'playback', request.ifNoneMatch, request.range);
        return opened.notModified ? opened : Object.assign(opened, { servedAs: 'playback' as const });
      }
      if (variant === 'original' && (canStripVideo(row) || canPatchHeif(row))) return openPlanned(row, request);

      if (variant !== 'original' || !canStrip(row.media_type)) {
        // An original whose location cannot be removed without re-encoding: its preview instead.
        const served: Variant = variant === 'original' ? 'preview' : variant;
        const opened = await openAsOwner(row, served, request.ifNoneMatch);
        return opened.notModified ? opened : Object.assign(opened, { servedAs: served });
      }

      // The original without its location: same length, so the owner's charge is the original's size.
      const etag = `"${row.sha256}-shared"`;
      if (etagMatches(request.ifNoneMatch, etag)) return { notModified: true, etag };
      const opened = await openAsOwner(row, 'original', undefined);
      if (opened.notModified) return opened;
      const stream = opened.stream.pipe(locationStripper(row.media_type)!);
      opened.stream.on('error', (error) => stream.destroy(error));
      const { contentType, length, totalSize, filename } = opened;
      return Object.assign(
        mediaResponse({ contentType, length, totalSize, range: undefined, etag, filename }, undefined, stream),
        {
          servedAs: 'original' as const,
        },
      );
    },
  };

  function tokenOf(share: OpenShare): ShareToken {
    const { token, expiresAt } = signer.unlockToken(share.seal);
    return { token, expiresAt: toIso(expiresAt) };
  }

  async function countOf(share: OpenShare): Promise<number> {
    return (await findOwnedShare(db, share.row.owner_id, share.row.id))?.image_count ?? 0;
  }
}
