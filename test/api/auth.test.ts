import { dictionary } from '@zxcvbn-ts/language-common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { newCredentials, signedUpUser } from '../helpers/api.js';
import { createAccountAsAdmin, EMBEDDED_ONLY, startApiServer, type ApiServer } from './support/server.js';
import { userRow } from './support/state.js';

let server: ApiServer;
let api: ApiServer['client'];

beforeAll(async () => {
  server = await startApiServer();
  api = server.client;
});
afterAll(() => server?.close());

const COMMON = (dictionary.passwords as string[]).slice(0, 1000);
const uncommon = (dictionary.passwords as string[])
  .slice(5000)
  .find((p) => p.length >= 8 && !COMMON.includes(p.toLowerCase()))!;

describe('register', () => {
  it('register › valid name and password › returns 201 with a token that opens /me', async () => {
    const { username, password } = newCredentials();

    const res = await api.register(username, password);

    expect(res.status).toBe(201);
    expect(res.body.user).toMatchObject({ username, role: 'user' });
    expect(Date.parse(res.body.expiresAt)).toBeGreaterThan(Date.now());
    const me = await api.me(res.body.token);
    expect(me.status).toBe(200);
    // /me adds what this server can take: videos are on where ffmpeg is installed.
    expect(me.body).toEqual({ ...res.body.user, videos: expect.any(Boolean) });
  });

  it('register › password › is stored as an argon2id hash with m=19456, t=2, p=1', async () => {
    const { password, userId } = await signedUpUser(api);

    const row = await userRow(server, userId);

    expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    expect(row.password_hash).not.toContain(password);
  });

  it('register › usernames of 3 and 32 letters, digits, dots, underscores, hyphens › are accepted', async () => {
    const suffix = Math.random().toString(36).slice(2, 6);
    const short = `a${suffix.slice(0, 2)}`;
    const long = `Ab.9_-${suffix}`.padEnd(32, 'x');

    const [a, b] = await Promise.all([api.register(short, 'correct horse 1'), api.register(long, 'correct horse 2')]);

    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.body.user.username).toBe(long);
  });

  it.each([
    ['too short', 'ab'],
    ['too long', 'a'.repeat(33)],
    ['a space', 'ana maria'],
    ['a slash', 'ana/maria'],
    ['an at sign', 'ana@example.com'],
    ['non-ASCII letters', 'zoë-müller'],
  ])('register › username with %s › returns 400 invalid_username', async (_case, username) => {
    const res = await api.register(username, 'correct horse battery');

    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_username');
    expect(res.body.error.message).toMatch(/3 to 32/);
  });

  it('register › same name in another case › returns 409 username_taken', async () => {
    const { username } = await signedUpUser(api, 'Case');

    const res = await api.register(username.toUpperCase(), 'another good password');

    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('username_taken');
  });

  it('register › two registrations of one name at once › exactly one succeeds', async () => {
    const { username, password } = newCredentials('race');

    const results = await Promise.all([
      api.register(username, password),
      api.register(username.toUpperCase(), password),
    ]);

    expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
  });

  it.each([
    ['7 characters', 'a1b2c3d'],
    ['129 characters', 'x'.repeat(129)],
  ])('register › password of %s › returns 400 invalid_password', async (_case, password) => {
    const res = await api.register(newCredentials().username, password);

    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_password');
    expect(res.body.error.message).toMatch(/8 to 128/);
  });

  it('register › passwords of 8 and 128 characters › are accepted', async () => {
    const [a, b] = await Promise.all([
      api.register(newCredentials().username, 'k3#vQ9!z'),
      api.register(newCredentials().username, 'Zq9'.repeat(42) + 'xy'),
    ]);

    expect([a.status, b.status]).toEqual([201, 201]);
  });

  it.each([
    ['the most common one', 'password'],
    ['a common one in capitals', 'PASSWORD'],
    ['the last common one of 8+ characters', [...COMMON].reverse().find((p) => p.length >= 8)!],
    ['numbers', '123456789'],
  ])('register › password that is %s › returns 400 with a clear message', async (_case, password) => {
    const res = await api.register(newCredentials().username, password);

    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('common_password');
    expect(res.body.error.message).toMatch(/too common/);
  });

  it('register › a password outside the 1,000 most common › is accepted', async () => {
    const res = await api.register(newCredentials().username, uncommon);

    expect(res.status).toBe(201);
  });

  it('register › sign-up closed › returns 403 and creates nothing, while existing accounts sign in', async () => {
    const closed = await startApiServer({ env: { PIXA_SIGNUP: 'closed' } });
    try {
      const admin = newCredentials('admin');
      await createAccountAsAdmin(closed, admin.username, admin.password, { admin: true });

      const res = await closed.client.register(newCredentials().username, 'a fine password');
      const login = await closed.client.login(admin.username, admin.password);

      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('signup_closed');
      const count = await closed.db
        .selectFrom('users')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow();
      expect(Number(count.n)).toBe(1);
      expect(login.status).toBe(200);
      expect(login.body.user.role).toBe('admin');
    } finally {
      await closed.close();
    }
  });
});

describe('register › limit per address', () => {
  it('register › more accounts from one address than PIXA_SIGNUP_PER_HOUR › 429 with Retry-After, nothing created', async () => {
    const limited = await startApiServer({ env: { PIXA_SIGNUP_PER_HOUR: '2' } });
    try {
      const first = await limited.client.register(newCredentials().username, 'a fine password 1');
      const second = await limited.client.register(newCredentials().username, 'a fine password 2');
      const third = await limited.client.register(newCredentials().username, 'a fine password 3');

      expect([first.status, second.status]).toEqual([201, 201]);
      expect(third.status).toBe(429);
      expect(third.body.error.code).toBe('too_many_signups');
      expect(third.body.error.message).toMatch(/Try again in \d+ minutes?/);
      expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
      const count = await limited.db
        .selectFrom('users')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow();
      expect(Number(count.n)).toBe(2);
      // The administrator's command is not an address: it is never limited.
      const admin = newCredentials('admin');
      await createAccountAsAdmin(limited, admin.username, admin.password);
      const signedIn = await limited.client.login(admin.username, admin.password);
      expect(signedIn.body.user).toMatchObject({ username: admin.username });
    } finally {
      await limited.close();
    }
  });
});

describe('login', () => {
  it('login › right password, name in any case › returns 200 and a working token', async () => {
    const { username, password, userId } = await signedUpUser(api, 'Login');

    const res = await api.login(username.toLowerCase(), password);

    expect(res.status).toBe(200);
    expect(res.body.user.id).toBe(userId);
    expect(res.body.user.username).toBe(username);
    expect((await api.me(res.body.token)).status).toBe(200);
  });

  it('login › unknown user and wrong password › return the same 401 body', async () => {
    const { username } = await signedUpUser(api);

    const wrongPassword = await api.login(username, 'not the password');
    const unknownUser = await api.login(`${username}x`, 'not the password');

    expect(wrongPassword.status).toBe(401);
    expect(unknownUser.status).toBe(401);
    expect(unknownUser.body).toEqual(wrongPassword.body);
    expect(wrongPassword.body.error.code).toBe('invalid_credentials');
    expect(wrongPassword.headers.get('www-authenticate') ?? '').toBe(unknownUser.headers.get('www-authenticate') ?? '');
  });

  it('login › too many wrong passwords over HTTP › returns 429 with Retry-After, even for the right password', async () => {
    const { username, password } = await signedUpUser(api);
    for (let i = 0; i < 10; i++) expect((await api.login(username, `wrong guess ${i}`)).status).toBe(401);

    const blocked = await api.login(username, password);

    expect(blocked.status).toBe(429);
    expect(blocked.body.error.code).toBe('too_many_attempts');
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(blocked.headers.get('retry-after'))).toBeLessThanOrEqual(15 * 60);
  });

  it.skipIf(EMBEDDED_ONLY)('login › guesser from one address blocked › the owner signs in from another', async () => {
    const { username, password } = await signedUpUser(api);
    for (let i = 0; i < 10; i++) {
      await expect(server.pixa.auth.login(username, `guess ${i}`, '10.0.0.66')).rejects.toMatchObject({
        statusCode: 401,
      });
    }

    await expect(server.pixa.auth.login(username, password, '10.0.0.66')).rejects.toMatchObject({
      statusCode: 429,
      code: 'too_many_attempts',
    });
    const owner = await server.pixa.auth.login(username, password, '10.0.0.7');

    expect(owner.user.username).toBe(username);
  });

  it.skipIf(EMBEDDED_ONLY)(
    'login › 25 wrong guesses fired at once from one address › no more than 10 are tried, the rest get 429',
    async () => {
      const { username } = await signedUpUser(api);

      const results = await Promise.allSettled(
        Array.from({ length: 25 }, (_, i) => server.pixa.auth.login(username, `parallel guess ${i}`, '10.0.0.99')),
      );

      const statuses = results.map((r) =>
        r.status === 'rejected' ? (r.reason as { statusCode: number }).statusCode : 200,
      );
      expect(statuses.filter((s) => s === 401)).toHaveLength(10);
      expect(statuses.filter((s) => s === 429)).toHaveLength(15);
    },
  );

  it.skipIf(EMBEDDED_ONLY)(
    'login › failures from many addresses against one account › block new devices, not the owner’s',
    async () => {
      const { username, password } = newCredentials();
      // The owner's device got its device cookie when it created the account.
      const { device } = await server.pixa.auth.register(username, password, { address: '10.0.0.8' });
      const addresses = Array.from({ length: 100 }, (_, i) => `10.1.${Math.floor(i / 250)}.${i % 250}`);
      for (let i = 0; i < addresses.length; i += 10) {
        await Promise.all(
          addresses
            .slice(i, i + 10)
            .map((address) => server.pixa.auth.login(username, 'a wrong guess', address).catch(() => undefined)),
        );
      }

      await expect(server.pixa.auth.login(username, password, '10.2.0.1')).rejects.toMatchObject({ statusCode: 429 });
      await expect(server.pixa.auth.login(username, password, '10.0.0.8', device)).resolves.toMatchObject({
        user: { username },
      });
    },
  );

  it.each([
    ['no body', undefined],
    ['a missing password', { username: 'someone' }],
    ['a number for a password', { username: 'someone', password: 12345678 }],
    ['an extra field', { username: 'someone', password: 'a password', admin: true }],
  ])('login › %s › returns 400 validation_failed', async (_case, json) => {
    const res = await api.request<{ error: { code: string } }>('POST', '/api/v1/auth/login', { json });

    expect(res.status).toBe(400);
    expect(res.body.error.code).toMatch(/validation_failed|invalid_json/);
  });
});

describe('logout', () => {
  it('logout › returns 204 and the token fails at once', async () => {
    const { token } = await signedUpUser(api);

    const res = await api.logout(token);

    expect(res.status).toBe(204);
    const me = await api.me(token);
    expect(me.status).toBe(401);
    expect(me.body.error.code).toBe('unauthorized');
  });

  it('logout › ends only that session › another sign-in keeps working', async () => {
    const { username, password, token } = await signedUpUser(api);
    const other = await api.login(username, password);

    await api.logout(token);

    expect((await api.me(other.body.token)).status).toBe(200);
  });
});

describe('password change', () => {
  it('password change › right current password › every other session ends, the new token and password work', async () => {
    const { username, password, token } = await signedUpUser(api);
    const otherDevice = await api.login(username, password);
    const newPassword = 'a much better secret 42';

    const res = await api.changePassword(token, password, newPassword);

    expect(res.status).toBe(200);
    expect((await api.me(otherDevice.body.token)).status).toBe(401);
    expect((await api.me(res.body.token)).status).toBe(200);
    expect((await api.login(username, password)).status).toBe(401);
    expect((await api.login(username, newPassword)).status).toBe(200);
  });

  it('password change › wrong current password › is refused and nothing changes', async () => {
    const { username, password, token } = await signedUpUser(api);

    const res = await api.changePassword(token, 'not my password', 'a much better secret 42');

    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.body.error.code).toBe('invalid_credentials');
    expect((await api.me(token)).status).toBe(200);
    expect((await api.login(username, password)).status).toBe(200);
  });

  it.skipIf(EMBEDDED_ONLY)(
    'password change › repeated wrong current passwords › throttled like sign-in, the owner still signs in elsewhere',
    async () => {
      const { username, password, token } = await signedUpUser(api);
      const statuses: number[] = [];
      for (let i = 0; i < 11; i++) {
        statuses.push((await api.changePassword(token, `guess number ${i}`, 'a much better secret 42')).status);
      }

      expect(statuses.slice(0, 10).every((status) => status === 401)).toBe(true);
      expect(statuses[10]).toBe(429);
      // The tight limit is per account and address: the owner on another network is not locked out.
      await expect(server.pixa.auth.login(username, password, '198.51.100.7')).resolves.toMatchObject({
        user: { username },
      });
    },
  );

  it('password change › to a common password › returns 400 and nothing changes', async () => {
    const { username, password, token } = await signedUpUser(api);

    const res = await api.changePassword(token, password, 'iloveyou');

    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('common_password');
    expect((await api.me(token)).status).toBe(200);
    expect((await api.login(username, password)).status).toBe(200);
  });

  it('password change › without a token › returns 401', async () => {
    const res = await api.request<{ error: { code: string } }>('POST', '/api/v1/auth/password', {
      json: { currentPassword: 'a', newPassword: 'b' },
    });

    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
  });
});
