import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, test } from 'vitest';

import { registerWebUi } from '../../src/http/web-ui.js';

let dist: string;
let app: FastifyInstance;

beforeAll(async () => {
  dist = mkdtempSync(path.join(tmpdir(), 'pixa-dist-'));
  writeFileSync(path.join(dist, 'index.html'), '<!doctype html><title>Pixa</title>');
  app = Fastify({ logger: false });
  await registerWebUi(app, { distDir: dist });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  rmSync(dist, { recursive: true, force: true });
});

test('a share link’s page /s/<key> › reloaded › serves the web UI, kept out of search engines and referrers', async () => {
  const response = await app.inject({ method: 'GET', url: '/s/Zk3_q-9aB4xYw2LmN0pQrStU' });

  expect(response.statusCode).toBe(200);
  expect(response.headers['content-type']).toMatch(/^text\/html/);
  expect(response.body).toContain('<title>Pixa</title>');
  expect(response.headers['x-robots-tag']).toBe('noindex, nofollow');
  expect(response.headers['referrer-policy']).toBe('no-referrer');
  expect(response.headers['cache-control']).toBe('no-cache');
});
