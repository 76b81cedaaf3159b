import { setTimeout as sleep } from 'node:timers/promises';

import type { Config } from '../config/config.js';
import { SERVICES, type ServiceName } from '../config/service-table.js';
import { openDatabase } from '../db/database.js';
import { pingDatabase } from '../db/ping.js';
import {
  explainStartupError,
  guessTarget,
  StartupError,
  type StartupExplanation,
  type StartupTarget,
} from '../lib/startup-errors.js';
import { createObjectStore } from '../storage/create-store.js';

/** What the services of this process need opened before they can start. */
export function dependenciesOf(services: readonly ServiceName[]): { database: boolean; store: boolean } {
  return {
    database: services.some((service) => SERVICES[service].database),
    store: services.some((service) => SERVICES[service].store),
  };
}

export interface WaitOptions {
  /** Retry a dependency that is merely not up yet for this long; 0 = fail at the first error. */
  waitMs: number;
  /** Told before each retry, with what went wrong and the delay. */
  onRetry?: (explanation: StartupExplanation, delayMs: number) => void;
  /** First delay; it doubles up to `maxDelayMs`. */
  firstDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * Opens the database (one query) and the object store (a ping) the way the services will, and closes
 * them again, so a wrong URL, a missing database or bucket, or refused credentials is reported in
 * plain words before anything else starts. A dependency that is only not up yet (connection refused,
 * host not resolvable yet, server starting) is retried with back-off for `waitMs`: pods started
 * before their database then start once it is, instead of crash-looping.
 * Throws StartupError.
 */
export async function checkDependencies(
  config: Pick<Config, 'databaseUrl' | 'storageUrl' | 'azureConnectionString'>,
  needs: { database: boolean; store: boolean },
  options: WaitOptions,
): Promise<void> {
  if (needs.database) {
    await retrying({ kind: 'database', url: config.databaseUrl }, options, async () => {
      const database = await openDatabase(config.databaseUrl, { poolSize: 1 });
      try {
        await pingDatabase(database.db);
      } finally {
        await database.close();
      }
    });
  }
  if (needs.store) {
    const target = {
      kind: 'store',
      url: config.storageUrl,
      azureConnectionString: config.azureConnectionString,
    } as const;
    await retrying(target, options, async () => {
      const store = await createObjectStore(config.storageUrl, { azureConnectionString: config.azureConnectionString });
      try {
        await store.ping();
      } finally {
        await store.close();
      }
    });
  }
}

/** Runs `attempt` until it succeeds, its failure is not transient, or `waitMs` has passed. */
export async function retrying(
  target: StartupTarget,
  options: WaitOptions,
  attempt: () => Promise<void>,
): Promise<void> {
  const deadline = Date.now() + options.waitMs;
  let delayMs = options.firstDelayMs ?? 500;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      const explanation = explainStartupError(error, target);
      const left = deadline - Date.now();
      if (!explanation.transient || left <= 0) throw new StartupError(explanation, { cause: error });
      const wait = Math.min(delayMs, left);
      options.onRetry?.(explanation, wait);
      await sleep(wait);
      delayMs = Math.min(delayMs * 2, options.maxDelayMs ?? 10_000);
    }
  }
}

/**
 * The explanation of an error thrown while the services were being built or started, when it can be
 * told which dependency or port it came from; undefined for anything else (a bug keeps its stack).
 */
export function explainLateError(error: unknown, config: Config): StartupExplanation | undefined {
  if (error instanceof StartupError) return error.explanation;
  const { syscall, port } = error as { syscall?: unknown; port?: unknown };
  if (syscall === 'listen' && typeof port === 'number') return explainStartupError(error, listenTarget(config, port));
  if (syscall === 'getaddrinfo' && typeof error === 'object' && error && 'hostname' in error) {
    const host = String((error as { hostname: unknown }).hostname);
    if (host === config.host || host === config.internalHost) {
      return explainStartupError(error, listenTarget(config, config.ports.gateway, host));
    }
  }
  const target = guessTarget(error, config.databaseUrl, config.storageUrl);
  return target ? explainStartupError(error, target) : undefined;
}

/** Rethrows an error of start-up as StartupError when it can be explained, else unchanged. */
export function rethrowExplained(error: unknown, config: Config): never {
  const explanation = explainLateError(error, config);
  throw explanation ? new StartupError(explanation, { cause: error }) : error;
}

/** Pod mode waits for dependencies that are not up yet; embedded mode reports them at once. */
export function waitOptions(config: Pick<Config, 'mode' | 'startupWaitMs'>): WaitOptions {
  return {
    waitMs: config.mode === 'pod' ? config.startupWaitMs : 0,
    onRetry: (explanation, delayMs) =>
      process.stderr.write(`pixa: waiting: ${explanation.problem}; trying again in ${Math.ceil(delayMs / 1000)} s\n`),
  };
}

/** The settings that chose a port: the gateway's PIXA_PORT, each internal service its own. */
function listenTarget(config: Config, port: number, host?: string): StartupTarget {
  const service = (Object.keys(config.ports) as ServiceName[]).find((name) => config.ports[name] === port) ?? 'gateway';
  const gateway = service === 'gateway';
  return {
    kind: 'listen',
    setting: gateway ? 'PIXA_PORT' : SERVICES[service].envPort,
    hostSetting: (host === undefined ? gateway : host === config.host) ? 'PIXA_HOST' : 'PIXA_INTERNAL_HOST',
    host: host ?? (gateway ? config.host : config.internalHost),
    port,
  };
}
