import { existsSync } from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { ROOT } from '../helpers/pod.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const INDEX = path.join(ROOT, 'web', 'dist', 'index.html');
const notBuilt = existsSync(INDEX) ? undefined : `web UI headers skipped: ${INDEX} is missing (run npm run build:web)`;
if (notBuilt) console.warn(notBuilt);

/** The directives of a Content-Security-Policy header, by name. */
function directives(csp: string | null): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const part of (csp ?? '').split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) map.set(name.toLowerCase(), values);
  }
  return map;
}

describe.skipIf(notBuilt)('web UI security headers', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.close());

  test.each(['/', '/gallery', '/some/client/route'])(
    'web › %s › CSP without inline scripts, no framing, no referrer, nosniff',
    async (route) => {
      const res = await fetch(`${server.url}${route}`);
      await res.arrayBuffer();

      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      const csp = directives(res.headers.get('content-security-policy'));
      const scripts = csp.get('script-src') ?? csp.get('default-src');
      expect(scripts).toBeDefined();
      expect(scripts).not.toContain("'unsafe-inline'");
      expect(scripts).not.toContain("'unsafe-eval'");
      expect(scripts!.some((source) => source === '*' || source.startsWith('http:') || source === 'data:')).toBe(false);
      expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
      expect(csp.get('object-src')).toEqual(["'none'"]);
      expect(csp.get('base-uri')).toBeDefined();
      expect(res.headers.get('referrer-policy')).toMatch(
        /^(no-referrer|same-origin|strict-origin(-when-cross-origin)?)$/,
      );
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
    },
  );

  test('web › index.html › has no inline script the policy would have to allow', async () => {
    const html = await (await fetch(server.url)).text();

    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      expect(attributes).toMatch(/\bsrc=/);
      expect(body!.trim()).toBe('');
    }
    expect(html).not.toMatch(/\son[a-z]+\s*=/i);
  });

  test('web › a built asset › served with nosniff and the same policy', async () => {
    const html = await (await fetch(server.url)).text();
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeDefined();

    const res = await fetch(`${server.url}${asset}`);
    await res.arrayBuffer();

    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/javascript/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  test('web › the API › answers JSON with nosniff and no-store, never the UI’s HTML', async () => {
    const res = await fetch(`${server.url}/api/v1/nothing-here`);
    const body = (await res.json()) as { error: { code: string } };

    expect(res.status).toBe(404);
    expect(body.error.code).toBe('not_found');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cache-control')).toBe('no-store');
  });
});
