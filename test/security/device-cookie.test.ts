import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';

import pino from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { createPixaProcess, type PixaProcess } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { newCredentials } from '../helpers/api.js';
import { freePorts } from '../helpers/pod.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * OWASP's device cookies: someone else's guessing locks new devices out of an account, never the
 * device its owner signed in on before. The attacker really connects from other addresses: the test
 * binds its sockets to 127.0.0.2, 127.0.0.3, … (all of 127/8 is loopback) and forges
 * `X-Forwarded-For: 127.0.0.1`, the owner's address, which a server without a trusted proxy ignores.
 */

const OWNER = '127.0.0.1';
const attacker = (n: number): string => `127.0.0.${n + 2}`;

interface Reply {
  status: number;
  body: { token?: string; error?: { code: string } };
  /** The device cookie the server set, as `pixa_device=<value>` ready for a Cookie header. */
  device?: string;
  setCookie: string[];
}

/** POSTs JSON from the given local address, with an optional Cookie header and bearer token. */
function post(
  base: string,
  route: string,
  json: unknown,
  from: string,
  cookie?: string,
  token?: string,
): Promise<Reply> {
  const url = new URL(route, base);
  const payload = JSON.stringify(json);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(payload)),
    'x-forwarded-for': OWNER,
  };
  if (cookie) headers.cookie = cookie;
  if (token) headers.authorization = `Bearer ${token}`;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        localAddress: from,
        headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const setCookie = res.headers['set-cookie'] ?? [];
          const device = setCookie.find((c) => c.startsWith('pixa_device='))?.split(';')[0];
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(Buffer.concat(chunks).toString()),
            device,
            setCookie,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Runs the lock-out cases against a gateway at `url()`. */
function lockOutCases(url: () => string) {
  const login = (username: string, password: string, from: string, cookie?: string) =>
    post(url(), '/api/v1/auth/login', { username, password }, from, cookie);

  /** 11 addresses × 10 wrong guesses, at once per round: more than the account's 100 an hour. */
  async function attack(username: string): Promise<number[]> {
    const statuses: number[] = [];
    for (let round = 0; round < 10; round++) {
      const replies = await Promise.all(
        Array.from({ length: 11 }, (_, n) => login(username, `guess ${round} from ${n}`, attacker(n))),
      );
      statuses.push(...replies.map((r) => r.status));
    }
    return statuses;
  }

  test('sign-in › an account guessed from 11 other addresses › new devices get 429, the owner’s device signs in', async () => {
    const { username, password } = newCredentials('owner');
    const registered = await post(url(), '/api/v1/auth/register', { username, password }, OWNER);
    expect(registered.status).toBe(201);
    const signedIn = await login(username, password, OWNER, registered.device);
    expect(signedIn.status).toBe(200);
    expect(signedIn.device).toBeDefined();
    expect(signedIn.setCookie.find((c) => c.startsWith('pixa_device='))).toMatch(
      /HttpOnly.*SameSite=Strict|SameSite=Strict.*HttpOnly/,
    );

    const statuses = await attack(username);

    // Exactly the account's budget was tried: had the forged X-Forwarded-For been believed, all
    // eleven would have shared the owner's address and its limit of 50.
    expect(statuses.filter((s) => s === 401)).toHaveLength(100);
    expect(statuses.filter((s) => s === 429)).toHaveLength(10);
    const attackerWithPassword = await login(username, password, attacker(20));
    expect(attackerWithPassword.status).toBe(429);
    expect(attackerWithPassword.body.error?.code).toBe('too_many_attempts');
    // The owner on a device that never signed in waits like everyone else…
    expect((await login(username, password, OWNER)).status).toBe(429);
    // …but from the device it used before it signs in, and again with the cookie that sign-in renewed.
    const owner = await login(username, password, OWNER, signedIn.device);
    expect(owner.status).toBe(200);
    expect(owner.body.token).toBeTruthy();
    expect((await login(username, password, attacker(21), owner.device)).status).toBe(200);
    // A password change counts like a sign-in: from that device it goes through as well.
    const change = { currentPassword: password, newPassword: `${password}-renewed` };
    const changed = await post(url(), '/api/v1/auth/password', change, OWNER, owner.device, owner.body.token);
    expect(changed.status).toBe(200);
  });

  test('sign-in › a device cookie of another account › earns nothing: still 429', async () => {
    const victim = newCredentials('victim');
    const own = newCredentials('mallory');
    expect((await post(url(), '/api/v1/auth/register', victim, OWNER)).status).toBe(201);
    const mallory = await post(url(), '/api/v1/auth/register', own, attacker(0));
    expect(mallory.device).toBeDefined();

    await attack(victim.username);

    expect((await login(victim.username, victim.password, attacker(0), mallory.device)).status).toBe(429);
    expect((await login(victim.username, victim.password, attacker(0), 'pixa_device=forged.value')).status).toBe(429);
  });

  test('sign-in › 10 wrong passwords with the owner’s device cookie › that device is throttled too', async () => {
    const { username, password } = newCredentials('stolen');
    const registered = await post(url(), '/api/v1/auth/register', { username, password }, OWNER);

    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      statuses.push((await login(username, `guess ${i}`, attacker(i), registered.device)).status);
    }

    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses[10]).toBe(429);
    expect((await login(username, password, OWNER, registered.device)).status).toBe(429);
  });
}

describe('device cookies › embedded', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.close());

  lockOutCases(() => server.url);
});

describe('device cookies › pod mode: the gateway carries the cookie to the auth service over HTTP', () => {
  let pixa: PixaProcess;
  let dataDir: string;
  let gateway: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'pixa-device-'));
    const ports = await freePorts();
    const config = loadConfig({
      PIXA_MODE: 'pod',
      PIXA_DATA_DIR: dataDir,
      PIXA_HOST: '127.0.0.1',
      PIXA_INTERNAL_HOST: '127.0.0.1',
      PIXA_AUTH_SECRET_KEY: randomBytes(32).toString('base64url'),
      PIXA_INTERNAL_TOKEN: randomBytes(32).toString('base64url'),
      PIXA_SWEEP_INTERVAL_MINUTES: '0',
      PIXA_SIGNUP_PER_HOUR: '0',
      PIXA_GATEWAY_PORT: String(ports.gateway),
      PIXA_AUTH_PORT: String(ports.auth),
      PIXA_STORAGE_PORT: String(ports.storage),
      PIXA_STORAGE_MONITOR_PORT: String(ports['storage-monitor']),
      PIXA_USAGE_MONITOR_PORT: String(ports['usage-monitor']),
    });
    pixa = await createPixaProcess(config, { logger: pino({ level: 'silent' }) });
    const addresses = await pixa.listen();
    gateway = addresses[0]!;
  });
  afterAll(async () => {
    await pixa?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  lockOutCases(() => gateway);
});
