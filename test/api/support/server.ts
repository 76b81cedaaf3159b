import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll } from 'vitest';

import { runPixa } from '../../helpers/pod.js';
import { EMBEDDED_ONLY, startTestServer, type TestServer, type TestServerOptions } from '../../helpers/server.js';

export { EMBEDDED_ONLY, FILES_ONLY, IN_POD, TEST_MODE } from '../../helpers/server.js';

export interface ApiServerOptions extends TestServerOptions {
  /** PIXA_* variables on top of the test defaults. */
  env?: Record<string, string>;
}

/** A test server in the suite's mode (embedded or pod) with its API client. */
export type ApiServer = TestServer;

/** startTestServer with options in one object, as most API tests want it. */
export function startApiServer(options: ApiServerOptions = {}): Promise<ApiServer> {
  return startTestServer(options.env, options);
}

export const newDataDir = (): Promise<string> => mkdtemp(path.join(tmpdir(), 'pixa-api-'));

/** A clock a test moves by hand (in-process servers only: mark the case EMBEDDED_ONLY). */
export function manualClock(startMs: number) {
  let current = startMs;
  return {
    now: () => current,
    set(ms: number) {
      current = ms;
    },
    advance(ms: number) {
      current += ms;
    },
  };
}

/**
 * Two in-process replicas sharing one data directory (database and store) and one manual clock,
 * started before the file's cases and closed after them. Embedded mode only: skip the cases with
 * EMBEDDED_ONLY, and nothing is started in a pod.
 */
export function twoReplicas(clock: { now: () => number }): { first: ApiServer; second: ApiServer } {
  const replicas = {} as { first: ApiServer; second: ApiServer };
  beforeAll(async () => {
    if (EMBEDDED_ONLY) return;
    replicas.first = await startApiServer({ now: clock.now });
    replicas.second = await startApiServer({ dataDir: replicas.first.dataDir, now: clock.now });
  });
  afterAll(async () => {
    await replicas.second?.close();
    await replicas.first?.close();
  });
  return replicas;
}

/**
 * Creates an account as the administrator's `pixa user create` does, past sign-up rules and limits:
 * in process when embedded, with the command itself against a pod's database.
 */
export async function createAccountAsAdmin(
  server: ApiServer,
  username: string,
  password: string,
  options: { admin?: boolean } = {},
): Promise<void> {
  if (!server.pod) {
    await server.pixa.auth.register(username, password, { role: options.admin ? 'admin' : 'user' });
    return;
  }
  const args = ['user', 'create', username, '--password', password, ...(options.admin ? ['--admin'] : [])];
  const result = runPixa(args, server.pod.env);
  if (result.status !== 0) throw new Error(`pixa ${args.join(' ')} failed:\n${result.output}`);
}

/** The key the server signs tokens with: generated into the data directory, or a pod's shared one. */
export async function signingSecret(server: ApiServer): Promise<string> {
  if (server.pod) return server.pod.env.PIXA_AUTH_SECRET_KEY!;
  return (await readFile(path.join(server.dataDir, 'secret.key'), 'utf8')).trim();
}
