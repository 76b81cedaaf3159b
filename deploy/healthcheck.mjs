// The image's HEALTHCHECK (`docker run`, Compose; Kubernetes uses its own probes instead). It asks
// /healthz of every service this container runs and exits 0 only when all of them answer 2xx. Slim
// images have no curl, so this is node.
//
// It runs beside the app, not inside it, and so reads the few variables it needs itself.
/* eslint-disable no-restricted-properties */

/** Default ports, as in src/config/service-table.ts (the deploy tests keep the two in step). */
const SERVICES = {
  gateway: { port: 80, embeddedPort: 8080, envPort: 'PIXA_GATEWAY_PORT' },
  auth: { port: 5000, envPort: 'PIXA_AUTH_PORT' },
  storage: { port: 5001, envPort: 'PIXA_STORAGE_PORT' },
  'storage-monitor': { port: 8000, envPort: 'PIXA_STORAGE_MONITOR_PORT' },
  'usage-monitor': { port: 8001, envPort: 'PIXA_USAGE_MONITOR_PORT' },
};

const env = process.env;
const pod = env.PIXA_MODE?.trim() === 'pod';
const listed = env.PIXA_SERVICES?.trim();
const names =
  !listed || listed === 'all'
    ? Object.keys(SERVICES)
    : listed
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean);

function portOf(name) {
  const service = SERVICES[name];
  if (!service) throw new Error(`unknown service "${name}" in PIXA_SERVICES`);
  if (name === 'gateway') {
    return Number(env.PIXA_GATEWAY_PORT || env.PIXA_PORT || (pod ? service.port : service.embeddedPort));
  }
  return Number(env[service.envPort] || service.port);
}

// In embedded mode every service runs in process behind the gateway's one port.
const targets = (pod ? names : ['gateway']).map((name) => `http://127.0.0.1:${portOf(name)}/healthz`);

const results = await Promise.all(
  targets.map(async (url) => {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(4000) });
      return { url, ok: response.ok, detail: String(response.status) };
    } catch (error) {
      return { url, ok: false, detail: error instanceof Error ? (error.cause?.code ?? error.message) : String(error) };
    }
  }),
);
for (const { url, ok, detail } of results) console.log(`${ok ? 'ok' : 'failing'} ${url} ${detail}`);
process.exit(results.every((result) => result.ok) ? 0 : 1);
