import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import pino from 'pino';

import { createPixa, type Pixa } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';

export interface TestServer {
  /** Base URL, e.g. http://127.0.0.1:43121 */
  url: string;
  pixa: Pixa;
  dataDir: string;
  close(): Promise<void>;
}

export interface TestServerOptions {
  /** Run on this data directory (to restart on one); it is then left in place on close. */
  dataDir?: string;
  /** The clock every service reads, for expiry and quota-day tests. */
  now?: () => number;
}

/**
 * A real Pixa on a free port with its own temp data directory: SQLite and the file store unless
 * `env` says otherwise. Nothing is mocked.
 */
export async function startTestServer(
  env: Record<string, string> = {},
  options: TestServerOptions = {},
): Promise<TestServer> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'pixa-test-')));
  const config = loadConfig({
    PIXA_DATA_DIR: dataDir,
    PIXA_PORT: '0',
    PIXA_HOST: '127.0.0.1',
    PIXA_SWEEP_INTERVAL_MINUTES: '0',
    // Tests create many accounts from 127.0.0.1; the sign-up limit has its own test.
    PIXA_SIGNUP_PER_HOUR: '0',
    ...env,
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
    async close() {
      await pixa.close();
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
