import closeWithGrace from 'close-with-grace';

import { createPixaProcess } from './app.js';
import { loadConfig } from './config/config.js';

/**
 * Starts the services PIXA_SERVICES (or `--services`) names, in PIXA_MODE: by default every service
 * in one process with the gateway on the public port. Returns when they listen. SIGTERM/SIGINT stop
 * accepting, let in-flight requests (uploads too) finish within the grace period, close the pools and
 * exit 0; past the grace period the process exits 1.
 */
export async function serve(overrides: { services?: string } = {}): Promise<void> {
  const config = loadConfig(undefined, overrides.services ? { PIXA_SERVICES: overrides.services } : {});
  const pixa = await createPixaProcess(config);
  closeWithGrace({ delay: config.shutdownGraceMs, logger: pixa.logger }, async ({ signal, err }) => {
    if (err) pixa.logger.error({ err }, 'shutting down after an error');
    else pixa.logger.info({ signal }, 'shutting down');
    await pixa.close();
    pixa.logger.info('stopped');
  });
  await pixa.listen();
}
