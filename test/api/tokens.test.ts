import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { newCredentials, signedUpUser } from '../helpers/api.js';
import {
  EMBEDDED_ONLY,
  manualClock,
  newDataDir,
  signingSecret,
  startApiServer,
  type ApiServer,
} from './support/server.js';

let server: ApiServer;
let secret: Uint8Array;

beforeAll(async () => {
  server = await startApiServer();
  secret = new TextEncoder().encode(await signingSecret(server));
});
afterAll(() => server?.close());

/** Signs the claims of a real token again, with changes: what an attacker holding the secret could do. */
function resign(token: string, changes: { header?: Record<string, unknown>; claims?: Record<string, unknown> } = {}) {
  const header = { ...decodeProtectedHeader(token), ...changes.header } as { alg: string };
  return new SignJWT({ ...decodeJwt(token), ...changes.claims }).setProtectedHeader(header).sign(secret);
}

const meStatus = async (token: string) => (await server.client.me(token)).status;

describe('tokens', () => {
  it('tokens › a fresh token › is an HS256 JWT whose jti is a session and whose exp follows the TTL', async () => {
    const { token, userId } = await signedUpUser(server.client);

    const header = decodeProtectedHeader(token);
    const claims = decodeJwt(token);

    expect(header.alg).toBe('HS256');
    expect(claims.sub).toBe(userId);
    // iat is stamped a moment after the session starts, so it may fall into the next second.
    expect(claims.exp! - claims.iat!).toBeGreaterThanOrEqual(24 * 3600 - 1);
    expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(24 * 3600);
    const session = await server.db
      .selectFrom('sessions')
      .selectAll()
      .where('id', '=', claims.jti!)
      .executeTakeFirstOrThrow();
    expect(session.user_id).toBe(userId);
    expect(Math.floor(Number(session.expires_at) / 1000)).toBe(claims.exp);
  });

  it('tokens › re-signed unchanged with the server secret › still works (the forging in these tests is sound)', async () => {
    const { token } = await signedUpUser(server.client);

    expect(await meStatus(await resign(token))).toBe(200);
  });

  it('tokens › payload altered, signature kept › returns 401', async () => {
    const { token } = await signedUpUser(server.client);
    const other = await signedUpUser(server.client);
    const [head, , sig] = token.split('.');
    const payload = Buffer.from(JSON.stringify({ ...decodeJwt(token), sub: other.userId })).toString('base64url');

    expect(await meStatus(`${head}.${payload}.${sig}`)).toBe(401);
  });

  it('tokens › signature altered › returns 401', async () => {
    const { token } = await signedUpUser(server.client);
    const sig = token.split('.')[2]!;
    const flipped = `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;

    expect(await meStatus(`${token.split('.').slice(0, 2).join('.')}.${flipped}`)).toBe(401);
  });

  it('tokens › expired, though correctly signed and its session live › returns 401', async () => {
    const { token } = await signedUpUser(server.client);
    const past = Math.floor(Date.now() / 1000) - 60;

    const res = await server.client.me(await resign(token, { claims: { iat: past - 3600, exp: past } }));

    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
  });

  it('tokens › alg none › returns 401', async () => {
    const { token } = await signedUpUser(server.client);
    const unsigned = new UnsecuredJWT(decodeJwt(token)).encode();

    expect(await meStatus(unsigned)).toBe(401);
    expect(await meStatus(`${unsigned}${token.split('.')[2]}`)).toBe(401);
  });

  it('tokens › another HMAC algorithm with the right secret › returns 401 (the algorithm is pinned)', async () => {
    const { token } = await signedUpUser(server.client);

    expect(await meStatus(await resign(token, { header: { alg: 'HS512' } }))).toBe(401);
  });

  it('tokens › RS256 signed with an attacker key, or claiming RS256 over an HMAC › returns 401', async () => {
    const { token } = await signedUpUser(server.client);
    const { privateKey } = await generateKeyPair('RS256');
    const rs = await new SignJWT(decodeJwt(token)).setProtectedHeader({ alg: 'RS256', typ: 'JWT' }).sign(privateKey);
    const [, body, hmac] = (await resign(token)).split('.');
    const relabelled = `${Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT' })).toString('base64url')}.${body}.${hmac}`;

    expect(await meStatus(rs)).toBe(401);
    expect(await meStatus(relabelled)).toBe(401);
  });

  it('tokens › carrying a jwk or jku header, even correctly signed › returns 401', async () => {
    const { token } = await signedUpUser(server.client);
    const { publicKey } = await generateKeyPair('ES256');
    const jwk = await exportJWK(publicKey);

    expect(await meStatus(await resign(token, { header: { jwk } }))).toBe(401);
    expect(await meStatus(await resign(token, { header: { jku: 'https://attacker.example/keys.json' } }))).toBe(401);
    expect(await meStatus(await resign(token, { header: { kid: '../../secret.key' } }))).toBe(401);
  });

  it('tokens › with a jti that is no session, or a session of another user › returns 401', async () => {
    const { token } = await signedUpUser(server.client);
    const other = await signedUpUser(server.client);

    expect(await meStatus(await resign(token, { claims: { jti: '0190d1c2-0000-7000-8000-000000000000' } }))).toBe(401);
    expect(await meStatus(await resign(token, { claims: { jti: decodeJwt(other.token).jti } }))).toBe(401);
  });

  it('tokens › revoked by logout › returns 401 even when re-signed', async () => {
    const { token } = await signedUpUser(server.client);
    const copy = await resign(token);

    await server.client.logout(token);

    expect(await meStatus(token)).toBe(401);
    expect(await meStatus(copy)).toBe(401);
  });

  it.each([
    ['a malformed token', 'Bearer not.a.jwt'],
    ['another scheme', 'Basic dXNlcjpwYXNz'],
    ['an empty bearer', 'Bearer '],
  ])('tokens › %s › returns 401 JSON', async (_case, authorization) => {
    const res = await server.client.request<{ error: { code: string } }>('GET', '/api/v1/me', {
      headers: { authorization },
    });

    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
  });

  it('tokens › no Authorization header › returns 401 JSON', async () => {
    const res = await server.client.request<{ error: { code: string } }>('GET', '/api/v1/images');

    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
  });
});

describe('token lifetime', () => {
  it('token lifetime › PIXA_TOKEN_TTL_HOURS=2 › exp is two hours after issue', async () => {
    const custom = await startApiServer({ env: { PIXA_TOKEN_TTL_HOURS: '2' } });
    try {
      const { token } = await signedUpUser(custom.client);
      const claims = decodeJwt(token);

      expect(claims.exp! - claims.iat!).toBeGreaterThanOrEqual(2 * 3600 - 1);
      expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(2 * 3600);
    } finally {
      await custom.close();
    }
  });

  it.skipIf(EMBEDDED_ONLY)(
    'token lifetime › once the session has expired on the server clock › returns 401',
    async () => {
      const clock = manualClock(Date.now());
      const timed = await startApiServer({ env: { PIXA_TOKEN_TTL_HOURS: '1' }, now: clock.now });
      try {
        const { token } = await signedUpUser(timed.client);
        expect((await timed.client.me(token)).status).toBe(200);

        clock.advance(3600 * 1000 + 1);

        expect((await timed.client.me(token)).status).toBe(401);
      } finally {
        await timed.close();
      }
    },
  );
});

// A pod is given its secret (PIXA_AUTH_SECRET_KEY); a generated secret.key is embedded mode's.
describe.skipIf(EMBEDDED_ONLY)('signing secret', () => {
  it('signing secret › first start › is generated once into <dataDir>/secret.key, readable only by its owner', async () => {
    const file = path.join(server.dataDir, 'secret.key');

    const info = await stat(file);

    expect(info.mode & 0o077).toBe(0);
    expect((await readFile(file, 'utf8')).trim().length).toBeGreaterThanOrEqual(32);
  });

  it('signing secret › restart on the same data directory › keeps the secret and people signed in', async () => {
    const dataDir = await newDataDir();
    try {
      const first = await startApiServer({ dataDir });
      const user = await signedUpUser(first.client);
      const before = await readFile(path.join(dataDir, 'secret.key'), 'utf8');
      await first.close();

      const second = await startApiServer({ dataDir });
      try {
        expect(await readFile(path.join(dataDir, 'secret.key'), 'utf8')).toBe(before);
        expect((await second.client.me(user.token)).status).toBe(200);
      } finally {
        await second.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('signing secret › an empty secret.key from an interrupted first start › is never used as the key', async () => {
    const dataDir = await newDataDir();
    await writeFile(path.join(dataDir, 'secret.key'), '', { mode: 0o600 });
    try {
      const started = await startApiServer({ dataDir }).catch(() => undefined);
      if (started === undefined) return; // refusing to start is a fine answer
      try {
        const { username, password } = newCredentials();
        expect((await started.client.register(username, password)).status).toBe(201);
        expect((await readFile(path.join(dataDir, 'secret.key'), 'utf8')).trim().length).toBeGreaterThanOrEqual(32);
      } finally {
        await started.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('signing secret › PIXA_AUTH_SECRET_KEY set › signs with it, writes no file, and refuses tokens of the old secret', async () => {
    const dataDir = await newDataDir();
    const key = 'an-operator-chosen-secret-of-more-than-32-characters';
    try {
      const generated = await startApiServer({ dataDir });
      const oldUser = await signedUpUser(generated.client);
      await generated.close();
      await rm(path.join(dataDir, 'secret.key'));

      const configured = await startApiServer({ dataDir, env: { PIXA_AUTH_SECRET_KEY: key } });
      try {
        const { username, password } = newCredentials();
        const { body } = await configured.client.register(username, password);

        await expect(jwtVerify(body.token, new TextEncoder().encode(key))).resolves.toBeTruthy();
        await expect(stat(path.join(dataDir, 'secret.key'))).rejects.toMatchObject({ code: 'ENOENT' });
        expect((await configured.client.me(oldUser.token)).status).toBe(401);
      } finally {
        await configured.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
