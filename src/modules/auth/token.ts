import { createSecretKey } from 'node:crypto';

import { errors, jwtVerify, SignJWT } from 'jose';

export interface TokenClaims {
  userId: string;
  sessionId: string;
  expiresAt: number;
}

export interface TokenSigner {
  sign(claims: TokenClaims): Promise<string>;
  /** The claims of a well-formed, correctly signed, unexpired token; undefined otherwise. */
  verify(token: string): Promise<TokenClaims | undefined>;
  /** verify() without a promise, for a token already verified and unexpired; undefined for any other. */
  verifiedBefore(token: string): TokenClaims | undefined;
}

const ISSUER = 'pixa';
/** Tokens remembered as verified; about 10,000 × 0.4 KB at most. */
const VERIFIED_CACHE_SIZE = 10_000;

/**
 * HMAC-signed JWTs. The algorithm is pinned on verification, so `alg: none`, an RS/HS swap or any
 * other algorithm fails, and tokens carrying key-location headers (`jku`, `jwk`, `kid`, `x5u`) are
 * refused outright rather than ignored.
 */
export function createTokenSigner(secret: string, algorithm: 'HS256' | 'HS384' | 'HS512'): TokenSigner {
  // A KeyObject made once: handing jose raw bytes makes it import the key again on every call.
  const key = createSecretKey(Buffer.from(secret, 'utf8'));
  // A token never changes, so its signature needs checking once: every request of a session sends
  // the same one. Only the expiry is checked again; revocation is the session lookup's job.
  const verified = new Map<string, TokenClaims>();
  return {
    sign: ({ userId, sessionId, expiresAt }) =>
      new SignJWT({})
        .setProtectedHeader({ alg: algorithm, typ: 'JWT' })
        .setSubject(userId)
        .setJti(sessionId)
        .setIssuer(ISSUER)
        .setIssuedAt()
        .setExpirationTime(Math.floor(expiresAt / 1000))
        .sign(key),
    verifiedBefore(token) {
      const known = verified.get(token);
      return known && known.expiresAt > Date.now() ? known : undefined;
    },
    async verify(token) {
      const known = verified.get(token);
      if (known) {
        if (known.expiresAt > Date.now()) return known;
        verified.delete(token);
        return undefined;
      }
      try {
        const { payload, protectedHeader } = await jwtVerify(token, key, {
          algorithms: [algorithm],
          issuer: ISSUER,
          requiredClaims: ['sub', 'jti', 'exp'],
        });
        const extraHeaders = Object.keys(protectedHeader).filter((name) => name !== 'alg' && name !== 'typ');
        if (extraHeaders.length > 0) return undefined;
        const claims = Object.freeze({ userId: payload.sub!, sessionId: payload.jti!, expiresAt: payload.exp! * 1000 });
        if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!);
        verified.set(token, claims);
        return claims;
      } catch (error) {
        if (error instanceof errors.JOSEError || error instanceof TypeError) return undefined;
        throw error;
      }
    },
  };
}
