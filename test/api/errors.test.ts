import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { signedUpUser } from '../helpers/api.js';
import { makePhoto } from '../helpers/photos.js';
import { startApiServer, type ApiServer } from './support/server.js';
import { imageRows, leftoverTempFiles, objectKeysOf, userRow } from './support/state.js';

let server: ApiServer;

beforeAll(async () => {
  server = await startApiServer();
});
afterAll(() => server?.close());

/** A raw request, so a test can send bodies the API client would never produce. */
async function raw(
  method: string,
  path: string,
  init: { body?: string | Buffer; headers?: Record<string, string> } = {},
) {
  const res = await fetch(new URL(path, server.url), { method, body: init.body, headers: init.headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: text ? (JSON.parse(text) as unknown) : undefined };
}

/** Exactly `{"error": {"code", "message"}}`, as JSON, never cached. */
function expectErrorShape(res: Awaited<ReturnType<typeof raw>>, status: number, code?: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.json).toEqual({
    error: { code: expect.stringMatching(/^[a-z][a-z0-9_]*$/), message: expect.any(String) },
  });
  const { error } = res.json as { error: { code: string; message: string } };
  if (code) expect(error.code).toBe(code);
  expect(error.message.length).toBeGreaterThan(5);
  expect(res.headers.get('cache-control')).toBe('no-store');
}

describe('errors › routes', () => {
  it.each([
    ['GET', '/api/v1/nothing-here'],
    ['POST', '/api/v2/images'],
    ['DELETE', '/api/v1/usage'],
    ['PUT', '/api/v1/images'],
    ['GET', '/api/v1/images/01900000-0000-7000-8000-000000000000/original/more'],
    ['GET', '/api'],
  ])('errors › unknown route %s %s › returns 404 JSON', async (method, path) => {
    expectErrorShape(await raw(method, path), 404, 'not_found');
  });

  it('errors › a malformed URL › returns 400 JSON', async () => {
    expectErrorShape(await raw('GET', '/api/v1/images/%E0%A4%A'), 400);
  });
});

describe('errors › bodies', () => {
  const json = { 'content-type': 'application/json' };

  it('errors › malformed JSON › returns 400 invalid_json', async () => {
    expectErrorShape(
      await raw('POST', '/api/v1/auth/register', { body: '{"username": "ana", ', headers: json }),
      400,
      'invalid_json',
    );
  });

  it('errors › an empty JSON body › returns 400', async () => {
    expectErrorShape(await raw('POST', '/api/v1/auth/login', { body: '', headers: json }), 400);
  });

  it.each([
    ['a number for the username', { username: 12345678, password: 'a good password' }, 'username'],
    ['a boolean for the password', { username: 'ana_maria', password: true }, 'password'],
    ['an array for the username', { username: ['ana'], password: 'a good password' }, 'username'],
    ['null for the password', { username: 'ana_maria', password: null }, 'password'],
    ['a JSON array as body', ['ana_maria', 'a good password'], undefined],
    ['a missing password', { username: 'ana_maria' }, 'password'],
  ])('errors › %s › returns 400 validation_failed naming the field', async (_case, body, field) => {
    const res = await raw('POST', '/api/v1/auth/register', { body: JSON.stringify(body), headers: json });

    expectErrorShape(res, 400, 'validation_failed');
    if (field) expect((res.json as { error: { message: string } }).error.message).toContain(field);
    const users = await server.db.selectFrom('users').select('username').execute();
    expect(users.map((u) => u.username)).not.toContain('12345678');
  });

  it('errors › a JSON body over the size limit › returns 413', async () => {
    const body = JSON.stringify({ username: 'ana_maria', password: 'x'.repeat(200_000) });

    expectErrorShape(await raw('POST', '/api/v1/auth/login', { body, headers: json }), 413);
  });

  it('errors › form-encoded credentials › returns 415', async () => {
    const res = await raw('POST', '/api/v1/auth/login', {
      body: 'username=ana&password=secret',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });

    expectErrorShape(res, 415);
  });
});

describe('errors › status codes across the API', () => {
  it('errors › each kind of failure › has its status and the one error shape', async () => {
    const user = await signedUpUser(server.client);
    const auth = { authorization: `Bearer ${user.token}` };

    expectErrorShape(await raw('GET', '/api/v1/me'), 401, 'unauthorized');
    expectErrorShape(
      await raw('GET', '/api/v1/images/01900000-0000-7000-8000-000000000000', { headers: auth }),
      404,
      'not_found',
    );
    expectErrorShape(
      await raw('POST', '/api/v1/auth/register', {
        body: JSON.stringify({ username: user.username, password: 'another good one' }),
        headers: { 'content-type': 'application/json' },
      }),
      409,
      'username_taken',
    );
    expectErrorShape(await raw('GET', '/api/v1/images?limit=0', { headers: auth }), 400, 'validation_failed');
  });
});

describe('errors › internal failures', () => {
  it('errors › a broken database under a request › 500 with a generic message that leaks nothing', async () => {
    const broken = await startApiServer();
    try {
      const user = await signedUpUser(broken.client);
      await broken.db.schema.dropTable('transfer_daily').execute();

      const res = await broken.client.request<{ error: { code: string; message: string } }>('GET', '/api/v1/usage', {
        token: user.token,
      });

      expect(res.status).toBe(500);
      expect(res.body).toEqual({ error: { code: 'internal_error', message: expect.any(String) } });
      const text = JSON.stringify(res.body);
      for (const secret of [
        'transfer_daily',
        'SQLITE',
        'sqlite',
        'no such table',
        'at ',
        '/',
        'node_modules',
        broken.dataDir,
      ]) {
        expect(text).not.toContain(secret);
      }
    } finally {
      await broken.close();
    }
  });

  it('errors › an upload whose database write fails › 500, and the objects and temp files written are removed', async () => {
    const broken = await startApiServer();
    try {
      const user = await signedUpUser(broken.client);
      await broken.db.schema.dropTable('storage_events').execute();

      const res = await broken.client.upload(user.token, [{ name: 'a.jpg', data: await makePhoto() }]);

      expect(res.status).toBe(500);
      expect(res.body.error.code).toBe('internal_error');
      expect(JSON.stringify(res.body)).not.toContain('storage_events');
      expect(await imageRows(broken, user.userId)).toEqual([]);
      expect(await objectKeysOf(broken, user.userId)).toEqual([]);
      expect(await leftoverTempFiles(broken)).toEqual([]);
      expect((await userRow(broken, user.userId)).storage_used_bytes).toBe(0);
    } finally {
      await broken.close();
    }
  });
});

describe('OpenAPI', () => {
  it('OpenAPI › /api/openapi.json › lists every public route of the gallery, albums and trash', async () => {
    const res = await raw('GET', '/api/openapi.json');

    expect(res.status).toBe(200);
    const doc = res.json as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toMatch(/^3\./);
    const routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(routes).toEqual(
      expect.arrayContaining([
        'POST /api/v1/auth/register',
        'POST /api/v1/auth/login',
        'POST /api/v1/auth/logout',
        'POST /api/v1/auth/password',
        'GET /api/v1/me',
        'POST /api/v1/images',
        'GET /api/v1/images',
        'GET /api/v1/images/{id}',
        'DELETE /api/v1/images/{id}',
        'GET /api/v1/images/{id}/original',
        'GET /api/v1/images/{id}/preview',
        'GET /api/v1/images/{id}/thumbnail',
        'GET /api/v1/usage',
        'PUT /api/v1/images/{id}/favorite',
        'DELETE /api/v1/images/{id}/favorite',
        'POST /api/v1/albums',
        'GET /api/v1/albums',
        'GET /api/v1/albums/{id}',
        'PATCH /api/v1/albums/{id}',
        'DELETE /api/v1/albums/{id}',
        'GET /api/v1/albums/{id}/images',
        'PUT /api/v1/albums/{id}/images',
        'DELETE /api/v1/albums/{id}/images',
        'GET /api/v1/trash',
        'POST /api/v1/trash/restore',
        'POST /api/v1/trash/empty',
        'DELETE /api/v1/trash/{id}',
      ]),
    );
  });

  it('OpenAPI › /api/docs › serves the documentation page', async () => {
    const res = await fetch(new URL('/api/docs', server.url));

    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(await res.text()).toMatch(/swagger/i);
  });
});
