/**
 * The five Pixa services, with the ports the original Pixa used inside its pod, what each needs
 * opened in its process, and how an error message names it.
 */
export const SERVICES = {
  gateway: {
    port: 80,
    embeddedPort: 8080,
    envPort: 'PIXA_GATEWAY_PORT',
    label: 'The gateway',
    database: false,
    store: false,
  },
  auth: { port: 5000, envPort: 'PIXA_AUTH_PORT', label: 'The sign-in service', database: true, store: false },
  storage: { port: 5001, envPort: 'PIXA_STORAGE_PORT', label: 'Photo storage', database: true, store: true },
  'storage-monitor': {
    port: 8000,
    envPort: 'PIXA_STORAGE_MONITOR_PORT',
    label: 'The storage usage service',
    database: true,
    store: false,
  },
  'usage-monitor': {
    port: 8001,
    envPort: 'PIXA_USAGE_MONITOR_PORT',
    label: 'The transfer usage service',
    database: true,
    store: false,
  },
} as const;

export type ServiceName = keyof typeof SERVICES;

export const SERVICE_NAMES = Object.keys(SERVICES) as ServiceName[];

/** Paths every service answers for Kubernetes probes and Prometheus. */
export const PROBE_PATHS = { liveness: '/healthz', readiness: '/readyz', metrics: '/metrics' } as const;
