/** The five Pixa services, with the ports the original Pixa used inside its pod. */
export const SERVICES = {
  gateway: { port: 80, embeddedPort: 8080, envPort: 'PIXA_GATEWAY_PORT' },
  auth: { port: 5000, envPort: 'PIXA_AUTH_PORT' },
  storage: { port: 5001, envPort: 'PIXA_STORAGE_PORT' },
  'storage-monitor': { port: 8000, envPort: 'PIXA_STORAGE_MONITOR_PORT' },
  'usage-monitor': { port: 8001, envPort: 'PIXA_USAGE_MONITOR_PORT' },
} as const;

export type ServiceName = keyof typeof SERVICES;

export const SERVICE_NAMES = Object.keys(SERVICES) as ServiceName[];

/** Paths every service answers for Kubernetes probes and Prometheus. */
export const PROBE_PATHS = { liveness: '/healthz', readiness: '/readyz', metrics: '/metrics' } as const;
