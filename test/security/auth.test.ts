import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';

import pino from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { createPixa } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { apiClient, newCredentials, signedUpUser } from '../helpers/api.js';
import { DEFAULT_SETUP_ONLY, startTestServer, type TestServer } from '../helpers/server.js';

/** Documentation addresses (RFC 5737): only ever written into X-Forwarded-For, never connected to. */
const GUESSER = '203.0.113.66';
const OWNER = '198.51.100.7';

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

async function login(url: string, username: string, password: string, forwardedFor?: string) {
  const response = await fetch(`${url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) },
    body: JSON.stringify({ username, password }),
  });
  const body = (await response.json()) as { token?: string; error?: { code: string } };
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body };
}

describe('sign-in behind a proxy (PIXA_TRUST_PROXY=true)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ PIXA_TRUST_PROXY: 'true' });
  });
  afterAll(() => server?.close());

  test('timing › unknown user and wrong password › medians of 10 tries each within a factor of 3', async () => {
    const { username } = await signedUpUser(server.client);
    const timed = async (name: string, address: string) => {
      const started = performance.now();
      const res = await login(server.url, name, 'definitely not it', address);
      expect(res.status).toBe(401);
      return performance.now() - started;
    };
    // Warm both paths up (JIT, the decoy hash, the first argon2 allocation) before measuring.
    await timed(username, '192.0.2.200');
    await timed(`${username}_nobody`, '192.0.2.201');

    const wrongPassword: number[] = [];
    const unknownUser: number[] = [];
    // Interleaved, each from its own address, so that neither series is throttled nor runs alone.
    for (let i = 0; i < 10; i++) {
      wrongPassword.push(await timed(username, `192.0.2.${i}`));
      unknownUser.push(await timed(`${username}_x${i}`, `192.0.2.${100 + i}`));
    }

    const [a, b] = [median(wrongPassword), median(unknownUser)];
    console.info(`login timing: wrong password median ${a.toFixed(1)} ms, unknown user median ${b.toFixed(1)} ms`);
    // A security property (no user enumeration by timing), not a speed assertion: the margin is wide.
    expect(Math.max(a, b) / Math.min(a, b)).toBeLessThan(3);
  });

  test('brute force › one account from one address › 429 with Retry-After well before 100 failures', async () => {
    const { username, password } = await signedUpUser(server.client);

    let failures = 0;
    let blocked: Awaited<ReturnType<typeof login>> | undefined;
    while (failures < 100) {
      const res = await login(server.url, username, `guess number ${failures}`, GUESSER);
      if (res.status === 429) {
        blocked = res;
        break;
      }
      expect(res.status).toBe(401);
      failures++;
    }

    expect(blocked?.body.error?.code).toBe('too_many_attempts');
    expect(failures).toBeLessThan(100);
    expect(Number(blocked?.retryAfter)).toBeGreaterThan(0);
    // The right password from the guessing address is refused as well while the block lasts.
    expect((await login(server.url, username, password, GUESSER)).status).toBe(429);
    // The owner, elsewhere, is not locked out by someone else's guessing.
    const owner = await login(server.url, username, password, OWNER);
    expect(owner.status).toBe(200);
    expect(owner.body.token).toBeTruthy();
  });
});

describe('sign-in without a trusted proxy (the default)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.close());

  test('brute force › a guesser inventing a new X-Forwarded-For per try › is still blocked after 10', async () => {
    const { username, password } = await signedUpUser(server.client);

    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      statuses.push((await login(server.url, username, `guess ${i}`, `192.0.2.${i}`)).status);
    }

    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses.slice(10)).toEqual([429, 429]);
    expect((await login(server.url, username, password, OWNER)).status).toBe(429);
  });

  test('password hash › after a password change › still argon2id with m=19456, t=2, p=1, salted anew', async () => {
    const api = server.client;
    const user = await signedUpUser(api);
    const hashOf = async () =>
      (
        await server.db
          .selectFrom('users')
          .select('password_hash')
          .where('id', '=', user.userId)
          .executeTakeFirstOrThrow()
      ).password_hash;
    const before = await hashOf();

    const changed = await api.changePassword(user.token, user.password, `${user.password}-renewed`);

    expect(changed.status).toBe(200);
    const after = await hashOf();
    for (const hash of [before, after]) {
      expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    }
    expect(after.split('$')[4]).not.toBe(before.split('$')[4]);
  });
});

// Its own in-process server with a log stream to read: once, in the default set-up.
describe.skipIf(DEFAULT_SETUP_ONLY)('logs', () => {
  test('logs › register, sign-in, failed sign-in, password change, legacy sign-in › no password in any line at trace', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(chunk.toString());
        callback();
      },
    });
    const dataDir = await mkdtemp(path.join(tmpdir(), 'pixa-logs-'));
    const config = loadConfig({
      PIXA_DATA_DIR: dataDir,
      PIXA_PORT: '0',
      PIXA_HOST: '127.0.0.1',
      PIXA_SWEEP_INTERVAL_MINUTES: '0',
      PIXA_LOG_LEVEL: 'trace',
    });
    const pixa = await createPixa(config, { logger: pino({ level: 'trace' }, sink) });
    try {
      const url = await pixa.app.listen({ host: '127.0.0.1', port: 0 });
      const api = apiClient(url);
      const { username, password } = newCredentials('logged');
      const renewed = `${password}-Renewed!`;
      const legacy = newCredentials('legacy');
      const wrong = 'Wrong-Guess-9f3a7c';
      const malformed = 'Malformed-Json-5e1d2b';
      const common = 'password1';
      const secrets = [password, renewed, legacy.password, wrong, malformed];

      const registered = await api.register(username, password);
      expect(registered.status).toBe(201);
      expect((await api.login(username, wrong)).status).toBe(401);
      expect((await api.login(username, password)).status).toBe(200);
      expect((await api.changePassword(registered.body.token, wrong, renewed)).status).toBe(401);
      expect((await api.changePassword(registered.body.token, password, renewed)).status).toBe(200);
      expect((await api.register(`${username}x`, common)).status).toBe(400);
      // Bodies the server cannot parse or validate, with a password inside.
      for (const body of [
        `{"username":"${username}","password":"${malformed}"`,
        JSON.stringify({ username, password: malformed, admin: true }),
      ]) {
        const res = await fetch(`${url}/api/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        expect(res.status).toBe(400);
      }
      const legacyRes = await fetch(`${url}/auth_user`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(legacy),
      });
      expect(legacyRes.status).toBe(200);

      const log = lines.join('');
      expect(log).toContain('incoming request');
      expect(lines.length).toBeGreaterThan(10);
      for (const secret of secrets) expect(log).not.toContain(secret);
    } finally {
      await pixa.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
