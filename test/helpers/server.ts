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

/**
 * A real Pixa on a free port with its own temp data directory: SQLite and the file store unless
 * `env` says otherwise. Nothing is mocked.
 */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'pixa-test-'));
  const config = loadConfig({
    PIXA_DATA_DIR: dataDir,
    PIXA_PORT: '0',
    PIXA_HOST: '127.0.0.1',
    PIXA_SWEEP_INTERVAL_MINUTES: '0',
    // Tests create many accounts from 127.0.0.1; the sign-up limit has its own test.
    PIXA_SIGNUP_PER_HOUR: '0',
    ...env,
  });
  const pixa = await createPixa(config, { logger: pino({ level: process.env.PIXA_TEST_LOG_LEVEL ?? 'silent' }) });
  const address = await pixa.app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url: address,
    pixa,
    dataDir,
    async close() {
      await pixa.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
