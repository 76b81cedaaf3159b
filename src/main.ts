import closeWithGrace from 'close-with-grace';

import { createPixa } from './app.js';
import { loadConfig } from './config/config.js';

/**
 * Starts Pixa: every service in one process, the gateway on the public port. Returns when it is
 * listening; SIGTERM/SIGINT stop accepting, let in-flight requests (uploads too) finish within the
 * grace period, close the pools and exit.
 */
export async function serve(overrides: { services?: string } = {}): Promise<void> {
  const env = { ...process.env, ...(overrides.services ? { PIXA_SERVICES: overrides.services } : {}) };
  const config = loadConfig(env);
  const pixa = await createPixa(config);
  closeWithGrace({ delay: config.shutdownGraceMs }, async ({ signal, err }) => {
    if (err) pixa.logger.error({ err }, 'shutting down after an error');
    else pixa.logger.info({ signal }, 'shutting down');
    await pixa.close();
  });
  await pixa.app.listen({ host: config.host, port: config.ports.gateway });
}
