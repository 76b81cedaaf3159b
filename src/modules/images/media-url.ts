import { createHmac, timingSafeEqual } from 'node:crypto';

import { AppError } from '../../lib/app-error.js';

import type { Variant } from '../../api/images.js';

export { VARIANTS, type Variant } from '../../api/images.js';

const IMAGE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Whether `id` has the shape of an image id (a lower-case UUID); anything else names no image. */
export const isImageId = (id: string): boolean => IMAGE_ID.test(id);

export interface MediaUrlSigner {
  /** A same-origin URL that loads one variant of one image without any header, until it expires. */
  url(ownerId: string, imageId: string, variant: Variant, options?: { download?: boolean }): string;
  /** Throws 403 when the signature is wrong or expired; returns when it expires (epoch ms). */
  check(ownerId: string, imageId: string, variant: Variant, exp: string, sig: string): number;
  /** Whether a URL that `check` said expires at `expiresAt` has expired since, by the signer's clock. */
  expired(expiresAt: number): boolean;
}

/**
 * Signed, expiring media URLs, like S3 presigned URLs or Azure SAS: the signature covers the owner,
 * the image, the variant and the expiry, so a URL cannot be altered to reach another image or
 * another account. Expiry is rounded to a quarter of the lifetime, so the URLs of a photo stay the
 * same for a while and the browser cache keeps working. The owner rides along as `u` so that a
 * request can be checked without looking the owner up; it is only a claim until the signature,
 * which covers it, is checked.
 */
export function createMediaUrlSigner(secret: string, ttlSeconds: number, now: () => number = Date.now): MediaUrlSigner {
  const key = createHmac('sha256', secret).update('pixa media url key').digest();
  const sign = (ownerId: string, imageId: string, variant: Variant, exp: number): string =>
    createHmac('sha256', key).update(`${ownerId}\n${imageId}\n${variant}\n${exp}`).digest('base64url');
  const step = Math.max(1, Math.floor(ttlSeconds / 4));

  return {
    url(ownerId, imageId, variant, options = {}) {
      const exp = Math.floor((Math.floor(now() / 1000) + ttlSeconds) / step) * step;
      const download = options.download ? '&download=1' : '';
      const sig = sign(ownerId, imageId, variant, exp);
      return `/api/v1/images/${imageId}/${variant}?exp=${exp}&u=${encodeURIComponent(ownerId)}&sig=${sig}${download}`;
    },
    check(ownerId, imageId, variant, exp, sig) {
      const expires = Number(exp);
      const expected = Buffer.from(sign(ownerId, imageId, variant, expires));
      const given = Buffer.from(sig);
      if (!/^\d{1,12}$/.test(exp) || given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new AppError('invalid_signature', 403, 'This image link is not valid.');
      }
      if (expires * 1000 < now()) {
        throw new AppError('link_expired', 403, 'This image link has expired. Reload the gallery to get a fresh one.');
      }
      return expires * 1000;
    },
    expired: (expiresAt) => expiresAt < now(),
  };
}
