import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { apiClient } from '../../helpers/api.js';
import { startTestServer, type TestServer, type TestServerOptions } from '../../helpers/server.js';

export interface ApiServerOptions extends TestServerOptions {
  /** PIXA_* variables on top of the test defaults. */
  env?: Record<string, string>;
}

export interface ApiServer extends TestServer {
  client: ReturnType<typeof apiClient>;
}

/** startTestServer with an API client attached, as most API tests want it. */
export async function startApiServer(options: ApiServerOptions = {}): Promise<ApiServer> {
  const server = await startTestServer(options.env, options);
  return { ...server, client: apiClient(server.url) };
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
