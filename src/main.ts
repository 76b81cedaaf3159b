import closeWithGrace from 'close-with-grace';

import { createPixaProcess } from './app.js';
import { checkDependencies, dependenciesOf, rethrowExplained, waitOptions } from './cli/startup.js';
import { loadConfig } from './config/config.js';
import { SERVICE_NAMES } from './config/service-table.js';

/**
 * Starts the services PIXA_SERVICES (or `--services`) names, in PIXA_MODE: by default every service
 * in one process with the gateway on the public port. Returns when they listen. SIGTERM/SIGINT stop
 * accepting, let in-flight requests (uploads too) finish within the grace period, close the pools and
 * exit 0; past the grace period the process exits 1.
 *
 * A start-up failure the operator can fix (database missing or unreachable, credentials refused, TLS,
 * bucket missing, port in use) throws StartupError with a plain explanation instead of a stack.
 */
export async function serve(overrides: { services?: string } = {}): Promise<void> {
  const config = loadConfig(undefined, overrides.services ? { PIXA_SERVICES: overrides.services } : {});
  // Embedded mode runs every service in process, whatever PIXA_SERVICES exposes on its own port.
  const services = config.mode === 'embedded' ? SERVICE_NAMES : config.services;
  await checkDependencies(config, dependenciesOf(services), waitOptions(config));
  const pixa = await createPixaProcess(config).catch((error: unknown) => rethrowExplained(error, config));
  const graceful = closeWithGrace({ delay: config.shutdownGraceMs, logger: pixa.logger }, async ({ signal, err }) => {
    if (err) pixa.logger.error({ err }, 'shutting down after an error');
    else pixa.logger.info({ signal }, 'shutting down');
    await pixa.close();
    pixa.logger.info('stopped');
  });
  try {
    await pixa.listen();
  } catch (error) {
    // Not started: close what was opened and report, without the shutdown handler's exit 0.
    graceful.uninstall();
    await pixa.close();
    rethrowExplained(error, config);
  }
}
