import { createHash, timingSafeEqual } from 'node:crypto';

import type { FastifyInstance } from 'fastify';

import { unauthorized } from '../lib/app-error.js';
import { PROBE_PATHS } from '../config/service-table.js';

/** The header one Pixa service shows another. */
export const INTERNAL_TOKEN_HEADER = 'x-pixa-internal-token';

const OPEN_PATHS: ReadonlySet<string> = new Set(Object.values(PROBE_PATHS));

/**
 * Lets a request into an internal service only with the shared internal token. The probes and
 * /metrics stay open: the kubelet and Prometheus send no headers, and they reveal no user data.
 */
export function requireInternalToken(app: FastifyInstance, token: string): void {
  const valid = internalTokenCheck(token);
  app.addHook('onRequest', async (request) => {
    if (OPEN_PATHS.has(request.url.split('?')[0]!)) return;
    if (!valid(request.headers[INTERNAL_TOKEN_HEADER])) {
      throw unauthorized('This is an internal Pixa service: it needs the internal service token.');
    }
  });
}

/**
 * Whether a header value is the internal token. Both sides are hashed first, so the comparison
 * takes the same time whatever the length.
 */
export function internalTokenCheck(token: string): (given: string | string[] | undefined) => boolean {
  const expected = digest(token);
  return (given) => typeof given === 'string' && timingSafeEqual(digest(given), expected);
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();
