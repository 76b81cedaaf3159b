import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device Cookies"): a browser that
 * signed in to an account gets a token naming a random device id, signed for that account. Its
 * failed sign-ins count against that device alone, so someone else's guessing, which locks out
 * devices the account has never seen, never locks out its owner's. The token carries no username;
 * the signature binds it to one account, so it earns nothing on another.
 */
export interface DeviceKeys {
  /** A new token for a device that just signed in to `account` (the username key). */
  issue(account: string): string;
  /** The device id of `token` when this server issued it for `account`; undefined otherwise. */
  verify(token: string | undefined, account: string): string | undefined;
}

/** Device ids are 16 random bytes; the signature is HMAC-SHA-256 with a key of its own. */
export function createDeviceKeys(secret: string): DeviceKeys {
  // Derived, so the key that signs sessions never signs anything else.
  const key = createHmac('sha256', secret).update('pixa device cookie v1').digest();
  const sign = (account: string, device: string): Buffer =>
    createHmac('sha256', key).update(`${account}\n${device}`).digest();
  return {
    issue(account) {
      const device = randomBytes(16).toString('base64url');
      return `${device}.${sign(account, device).toString('base64url')}`;
    },
    verify(token, account) {
      const [device, signature, extra] = (token ?? '').split('.');
      if (!device || !signature || extra !== undefined || device.length > 64) return undefined;
      const expected = sign(account, device);
      const given = Buffer.from(signature, 'base64url');
      return given.length === expected.length && timingSafeEqual(given, expected) ? device : undefined;
    },
  };
}
