import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { registerWebUi } from '../../src/http/web-ui.js';

/** A gateway stand-in: the web UI plus one API route and the usual JSON 404. */
async function gateway(distDir: string): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  app.setNotFoundHandler((_request, reply) =>
    reply.code(404).send({ error: { code: 'not_found', message: 'No such endpoint.' } }),
  );
  app.get('/api/v1/ping', async () => ({ ok: true }));
  await registerWebUi(app, { distDir });
  await app.ready();
  return app;
}

describe('web UI serving', () => {
  let dist: string;
  let app: FastifyInstance;

  beforeAll(async () => {
    dist = mkdtempSync(path.join(tmpdir(), 'pixa-dist-'));
    mkdirSync(path.join(dist, 'assets'));
    writeFileSync(path.join(dist, 'index.html'), '<!doctype html><title>Pixa</title>');
    writeFileSync(path.join(dist, 'assets', 'index-abc123.js'), 'console.log(1)');
    writeFileSync(path.join(dist, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    writeFileSync(path.join(dist, '.secret'), 'hidden');
    app = await gateway(dist);
  });

  afterAll(async () => {
    await app?.close();
    rmSync(dist, { recursive: true, force: true });
  });

  test('/ serves index.html, revalidated on every load, with the security headers', async () => {
    const response = await app.inject({ method: 'GET', url: '/' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    expect(response.headers['cache-control']).toBe('no-cache');
    expect(response.headers['content-security-policy']).toContain("script-src 'self'");
    expect(response.headers['content-security-policy']).toContain("img-src 'self' blob: data:");
    expect(response.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['referrer-policy']).toBe('no-referrer');
    expect(response.headers['x-frame-options']).toBe('DENY');
  });

  test('hashed assets are cached for a year; other files are revalidated', async () => {
    const asset = await app.inject({ method: 'GET', url: '/assets/index-abc123.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const icon = await app.inject({ method: 'GET', url: '/favicon.svg' });
    expect(icon.statusCode).toBe(200);
    expect(icon.headers['cache-control']).toBe('no-cache');
  });

  test('unknown paths outside /api get index.html, so a reload of any app path works', async () => {
    for (const url of ['/photos/123', '/account?tab=password']) {
      const response = await app.inject({ method: 'GET', url });
      expect(response.statusCode).toBe(200);
      expect(response.body).toContain('<title>Pixa</title>');
    }
  });

  test('unknown API paths and missing assets are real 404s, never the page', async () => {
    for (const url of ['/api/v1/nope', '/api', '/assets/gone-123.js']) {
      const response = await app.inject({ method: 'GET', url });
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ error: { code: 'not_found' } });
    }
    expect((await app.inject({ method: 'GET', url: '/api/v1/ping' })).json()).toEqual({ ok: true });
  });

  test('dot files and paths that climb out of the build are not served', async () => {
    for (const url of ['/.secret', '/%2e%2e/package.json', '/..%2f..%2fetc%2fpasswd', '/assets/..%2f.secret']) {
      const response = await app.inject({ method: 'GET', url });
      expect(response.body).not.toContain('hidden');
      expect(response.body).not.toContain('"name"');
      expect(response.body).not.toContain('root:');
    }
  });

  test('without a build, / answers with a JSON hint instead of failing to start', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'pixa-dist-'));
    const bare = await gateway(empty);
    try {
      const response = await bare.inject({ method: 'GET', url: '/' });
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ error: { code: 'web_ui_not_built' } });
    } finally {
      await bare.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
