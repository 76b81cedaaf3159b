import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { createLoginThrottle } from '../../src/modules/auth/login-throttle.js';
import { hashPassword } from '../../src/modules/auth/password.js';
import { newId } from '../../src/lib/ids.js';
import { newCredentials } from '../helpers/api.js';
import { announceSkip, DIALECTS, openMigratedDatabase, type TestDatabase } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The sign-up and sign-in limits hold when the requests arrive at once: each request reserves its
 * place in the database before the expensive work, so parallel requests cannot all pass one check.
 * Every dialect, since replicas share the throttle through the database.
 */

const SPRAYED_ACCOUNTS = 80;
/** The cases call the in-process auth service with chosen addresses; a pod run has none. */
const IN_POD = process.env.PIXA_TEST_MODE === 'pod';

const statusOf = (result: PromiseSettledResult<unknown>): number =>
  result.status === 'fulfilled' ? 200 : ((result.reason as { statusCode?: number }).statusCode ?? 500);

const countOf = (statuses: number[], status: number): number => statuses.filter((s) => s === status).length;

for (const dialect of DIALECTS) {
  announceSkip('throttle races', dialect);

  describe.skipIf(dialect.skipReason !== undefined || IN_POD)(`throttle races › ${dialect.name}`, () => {
    let database: TestDatabase | undefined;
    let server: TestServer;
    const sprayed: string[] = [];

    beforeAll(async () => {
      if (dialect.name !== 'sqlite') database = await dialect.createDatabase();
      server = await startTestServer({
        ...(database ? { PIXA_DATABASE_URL: database.url } : {}),
        PIXA_SIGNUP_PER_HOUR: '2',
      });
      // Accounts to spray, written directly: 80 registrations would be 80 argon2 hashes for nothing.
      const hash = await hashPassword('the same password for everyone');
      for (let i = 0; i < SPRAYED_ACCOUNTS; i++) sprayed.push(newCredentials('spray').username);
      await server.pixa.database.db
        .insertInto('users')
        .values(
          sprayed.map((username) => ({
            id: newId(),
            username,
            username_key: username.toLowerCase(),
            password_hash: hash,
            role: 'user' as const,
            storage_quota_bytes: null,
            daily_transfer_bytes: null,
            storage_used_bytes: 0,
            created_at: Date.now(),
          })),
        )
        .execute();
    });
    afterAll(async () => {
      await server?.close();
      await database?.drop();
    });

    const userCount = async (): Promise<number> => {
      const row = await server.pixa.database.db
        .selectFrom('users')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('username', 'like', 'race%')
        .executeTakeFirstOrThrow();
      return Number(row.n);
    };

    test('sign-up › 12 registrations at once with PIXA_SIGNUP_PER_HOUR=2 › exactly 2 accounts, 10 get 429', async () => {
      const responses = await Promise.all(
        Array.from({ length: 12 }, async () => {
          const { username, password } = newCredentials('race');
          const response = await fetch(`${server.url}/api/v1/auth/register`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ username, password }),
          });
          return { status: response.status, body: (await response.json()) as { error?: { code: string } } };
        }),
      );

      const statuses = responses.map((r) => r.status);
      expect(countOf(statuses, 201)).toBe(2);
      expect(countOf(statuses, 429)).toBe(10);
      expect(responses.find((r) => r.status === 429)?.body.error?.code).toBe('too_many_signups');
      expect(await userCount()).toBe(2);
    });

    test('sign-up › a registration refused for a taken name › does not use up a place of the address', async () => {
      const address = '192.0.2.77';
      const first = newCredentials('race');
      await server.pixa.auth.register(first.username, first.password, { address });

      await expect(
        server.pixa.auth.register(first.username, 'another fine password', { address }),
      ).rejects.toMatchObject({ statusCode: 409 });
      const second = newCredentials('race');
      await expect(server.pixa.auth.register(second.username, second.password, { address })).resolves.toBeDefined();
      const third = newCredentials('race');
      await expect(server.pixa.auth.register(third.username, third.password, { address })).rejects.toMatchObject({
        statusCode: 429,
        code: 'too_many_signups',
      });
    });

    test('sign-in › 80 guesses at once against 80 accounts from one address › 50 are tried, 30 get 429', async () => {
      const results = await Promise.allSettled(
        sprayed.map((username) => server.pixa.auth.login(username, 'a sprayed guess', '192.0.2.10')),
      );

      const statuses = results.map(statusOf);
      expect(countOf(statuses, 401)).toBe(50);
      expect(countOf(statuses, 429)).toBe(30);
      // Another address is not affected.
      await expect(server.pixa.auth.login(sprayed[0]!, 'a sprayed guess', '192.0.2.11')).rejects.toMatchObject({
        statusCode: 401,
      });
    });

    test('sign-in › a spray from 60 addresses of one IPv6 /64 › counted as one address: 50 tried, 10 get 429', async () => {
      // Written in every notation a client address can take: compressed, expanded, upper case.
      const addresses = Array.from({ length: 60 }, (_, i) =>
        i % 3 === 0
          ? `2001:db8:7:1::${(i + 1).toString(16)}`
          : i % 3 === 1
            ? `2001:0db8:0007:0001:0000:0000:0000:${(i + 1).toString(16).padStart(4, '0')}`
            : `2001:DB8:7:1:${(i + 1).toString(16).toUpperCase()}::1`,
      );

      const results = await Promise.allSettled(
        addresses.map((address, i) => server.pixa.auth.login(sprayed[i]!, 'a sprayed guess', address)),
      );

      const statuses = results.map(statusOf);
      expect(countOf(statuses, 401)).toBe(50);
      expect(countOf(statuses, 429)).toBe(10);
      // The neighbouring /64 is someone else.
      await expect(server.pixa.auth.login(sprayed[0]!, 'a sprayed guess', '2001:db8:7:2::1')).rejects.toMatchObject({
        statusCode: 401,
      });
    });
  });

  describe.skipIf(dialect.skipReason !== undefined)(`throttle under a burst › ${dialect.name}`, () => {
    test('400 attempts at once over 7 accounts and 5 addresses › each is let through or refused with 429, none fails', async () => {
      // A small pool that gives up soon, as a busy server's would.
      const database = await openMigratedDatabase(dialect, { poolSize: 5, connectTimeoutMs: 1000 });
      try {
        const throttle = createLoginThrottle(database.db);
        // Attempts on one account wait for each other's row lock; were they all to wait holding a
        // pooled connection, the pool would run dry and attempts fail with 503 instead.
        const results = await Promise.allSettled(
          Array.from({ length: 400 }, async (_, i) => {
            const attempt = { account: `burst${i % 7}`, address: `192.0.2.${Math.floor(i / 7) % 5}` };
            const reservation = await throttle.begin(attempt, Date.now());
            if (i % 4 === 0) await throttle.succeed(reservation);
          }),
        );

        const failed = results.filter(
          (r) => r.status === 'rejected' && (r.reason as { statusCode?: number }).statusCode !== 429,
        );
        expect(failed.map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
        expect(results.some((r) => r.status === 'rejected')).toBe(true);
      } finally {
        await database.close();
      }
    });
  });
}
