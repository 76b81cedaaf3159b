import type { FastifyReply, FastifyRequest } from 'fastify';

import type { SignIn } from '../../api/auth.js';
import type { DeviceSignIn } from '../../api/internal.js';

/**
 * The device cookie of OWASP's lock-out defence: a browser that signed in keeps a signed token
 * that gives it a sign-in budget of its own, so guessing from elsewhere does not lock its owner out.
 * HttpOnly (scripts never see it), SameSite=Strict, and sent only to the sign-in routes.
 */
export const DEVICE_COOKIE = 'pixa_device';
const PATH = '/api/v1/auth';
/** A device is remembered for a year after its last sign-in. */
const MAX_AGE_SECONDS = 365 * 24 * 60 * 60;
/** Longer values were not issued here; they are ignored rather than passed on. */
const MAX_LENGTH = 200;

/** The request's device cookie, if it sent one. */
export function deviceCookieOf(request: FastifyRequest): string | undefined {
  for (const pair of (request.headers.cookie ?? '').split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0 || pair.slice(0, eq).trim() !== DEVICE_COOKIE) continue;
    const value = pair.slice(eq + 1).trim();
    return value.length > 0 && value.length <= MAX_LENGTH ? value : undefined;
  }
  return undefined;
}

/** Sets the device cookie from a sign-in and returns the sign-in without it, for the response body. */
export function withDeviceCookie(request: FastifyRequest, reply: FastifyReply, signIn: DeviceSignIn): SignIn {
  const { device, ...rest } = signIn;
  const secure = request.protocol === 'https' ? '; Secure' : '';
  reply.header(
    'set-cookie',
    `${DEVICE_COOKIE}=${device}; Path=${PATH}; Max-Age=${MAX_AGE_SECONDS}; HttpOnly; SameSite=Strict${secure}`,
  );
  return rest;
}
