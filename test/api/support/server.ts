import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import pino from 'pino';

import { createPixa } from '../../../src/app.js';
import { loadConfig } from '../../../src/config/config.js';
import { apiClient } from '../../helpers/api.js';
import type { TestServer } from '../../helpers/server.js';

export interface ApiServerOptions {
  /** PIXA_* variables on top of the test defaults. */
  env?: Record<string, string>;
  /** Run on this data directory (to restart on one); it is then left in place on close. */
  dataDir?: string;
  /** The clock every service reads, for expiry and quota-day tests. */
  now?: () => number;
}

export interface ApiServer extends TestServer {
  client: ReturnType<typeof apiClient>;
}

/**
 * A real Pixa on a free port, like startTestServer, with the two things some tests need on top:
 * a data directory of their own choosing (a restart) and a clock they control.
 */
export async function startApiServer(options: ApiServerOptions = {}): Promise<ApiServer> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'pixa-api-')));
  const config = loadConfig({
    PIXA_DATA_DIR: dataDir,
    PIXA_PORT: '0',
    PIXA_HOST: '127.0.0.1',
    PIXA_SWEEP_INTERVAL_MINUTES: '0',
    // Tests create many accounts from 127.0.0.1; the sign-up limit has its own test.
    PIXA_SIGNUP_PER_HOUR: '0',
    ...options.env,
  });
  const pixa = await createPixa(config, {
    logger: pino({ level: process.env.PIXA_TEST_LOG_LEVEL ?? 'silent' }),
    now: options.now,
  });
  const url = await pixa.app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url,
    pixa,
    dataDir,
    client: apiClient(url),
    async close() {
      await pixa.close();
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export const newDataDir = (): Promise<string> => mkdtemp(path.join(tmpdir(), 'pixa-api-'));

/** A clock a test moves by hand. */
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
