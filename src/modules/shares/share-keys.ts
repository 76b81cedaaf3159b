import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

import { AppError } from '../../lib/app-error.js';

/** A link's key: 144 random bits, base64url (24 characters). Only its hash is stored. */
export const newShareKey = (): string => randomBytes(18).toString('base64url');

export const hashShareKey = (key: string): string => createHash('sha256').update(key).digest('hex');

/** The shape of a key; anything else names no link (and is not looked up). */
export const isShareKey = (key: string): boolean => /^[A-Za-z0-9_-]{22,86}$/.test(key);

/** How long the token of an unlocked link opens it. */
export const UNLOCK_TTL_SECONDS = 3600;

/** What a link's signatures cover besides their subject: the link, and its password at the time. */
export interface ShareSeal {
  shareId: string;
  /** The link's password hash, or null: changing or clearing the password ends every token and URL. */
  passwordHash: string | null;
}

export interface ShareSigner {
  /** A URL of one variant of one shared photo (or the link's ZIP, `archive`), until it expires. */
  mediaUrl(key: string, seal: ShareSeal, imageId: string, variant: string, options?: { download?: boolean }): string;
  archiveUrl(key: string, seal: ShareSeal): string;
  /** Throws 403 when the signature is wrong or expired. */
  checkMedia(seal: ShareSeal, imageId: string, variant: string, exp: string | undefined, sig: string | undefined): void;
  unlockToken(seal: ShareSeal): { token: string; expiresAt: number };
  tokenOpens(seal: ShareSeal, token: string | undefined): boolean;
}

/**
 * Signatures of shared media and unlock tokens: HMACs over the link, its password hash, the subject
 * and an expiry, so a URL or token of one link opens nothing else, and a new password closes them.
 */
export function createShareSigner(secret: string, ttlSeconds: number, now: () => number = Date.now): ShareSigner {
  const key = createHmac('sha256', secret).update('pixa share link key').digest();
  const sign = (seal: ShareSeal, subject: string, exp: number): string =>
    createHmac('sha256', key)
      .update(`${seal.shareId}\n${seal.passwordHash ?? ''}\n${subject}\n${exp}`)
      .digest('base64url');
  const step = Math.max(1, Math.floor(ttlSeconds / 4));
  // Rounded like the gallery's media URLs, so a photo's URL stays the same for a while and caches work.
  const expiry = () => Math.floor((Math.floor(now() / 1000) + ttlSeconds) / step) * step;
  const matches = (given: string, expected: string): boolean =>
    given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));

  return {
    mediaUrl(shareKey, seal, imageId, variant, options = {}) {
      const exp = expiry();
      const download = options.download ? '&download=1' : '';
      const sig = sign(seal, `${imageId}/${variant}`, exp);
      return `/api/v1/shared/${shareKey}/images/${imageId}/${variant}?exp=${exp}&sig=${sig}${download}`;
    },
    archiveUrl(shareKey, seal) {
      const exp = expiry();
      return `/api/v1/shared/${shareKey}/archive?exp=${exp}&sig=${sign(seal, 'archive', exp)}`;
    },
    checkMedia(seal, imageId, variant, exp, sig) {
      const subject = variant === 'archive' ? 'archive' : `${imageId}/${variant}`;
      if (exp === undefined || sig === undefined || !/^\d{1,12}$/.test(exp)) throw invalidLink();
      if (!matches(sig, sign(seal, subject, Number(exp)))) throw invalidLink();
      if (Number(exp) * 1000 < now()) {
        throw new AppError(
          'link_expired',
          403,
          'This photo link has expired. Reload the shared page to get a fresh one.',
        );
      }
    },
    unlockToken(seal) {
      const exp = Math.floor(now() / 1000) + UNLOCK_TTL_SECONDS;
      return { token: `${exp}.${sign(seal, 'unlock', exp)}`, expiresAt: exp * 1000 };
    },
    tokenOpens(seal, token) {
      const match = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(token ?? '');
      if (!match) return false;
      const exp = Number(match[1]);
      return exp * 1000 >= now() && matches(match[2]!, sign(seal, 'unlock', exp));
    },
  };
}

const invalidLink = (): AppError => new AppError('invalid_signature', 403, 'This photo link is not valid.');
