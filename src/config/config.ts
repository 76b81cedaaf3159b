import path from 'node:path';

import { SERVICE_NAMES, SERVICES, type ServiceName } from '../services/service-table.js';

/** Pixa's whole configuration, read once from the environment at start-up and frozen. */
export interface Config {
  mode: 'embedded' | 'pod';
  services: readonly ServiceName[];
  host: string;
  internalHost: string;
  ports: Readonly<Record<ServiceName, number>>;
  dataDir: string;
  databaseUrl: string;
  autoMigrate: boolean;
  dbPoolSize: number;
  storageUrl: string;
  azureConnectionString: string | undefined;
  authSecretKey: string | undefined;
  authAlgorithm: 'HS256' | 'HS384' | 'HS512';
  tokenTtlSeconds: number;
  internalToken: string | undefined;
  signup: 'open' | 'closed';
  signupPerHour: number;
  maxUploadBytes: number;
  maxFilesPerUpload: number;
  maxPixels: number;
  storageQuotaBytes: number;
  dailyTransferBytes: number;
  mediaUrlTtlSeconds: number;
  cacheBytes: number;
  requestTimeoutMs: number;
  shutdownGraceMs: number;
  trustProxy: boolean;
  logLevel: string;
  logFile: string | undefined;
  logMaxBytes: number;
  sweepIntervalSeconds: number;
}

const MB = 1024 * 1024;

/**
 * Every environment variable Pixa reads, with its default and meaning. The README's configuration
 * table is written from this list; the deployment tests check manifests against it.
 */
export const ENV_VARS: Readonly<Record<string, { default: string; description: string }>> = {
  PIXA_SERVICES: { default: 'all five', description: 'Comma-separated services this process runs.' },
  PIXA_MODE: {
    default: 'embedded',
    description: '`embedded` (services call each other in process) or `pod` (over HTTP on 127.0.0.1).',
  },
  PIXA_HOST: { default: '0.0.0.0', description: 'Address the public gateway listens on.' },
  PIXA_INTERNAL_HOST: { default: '127.0.0.1', description: 'Address the internal services listen on.' },
  PIXA_PORT: { default: '8080 embedded, 80 pod', description: 'Port of the gateway (the only public port).' },
  PIXA_GATEWAY_PORT: { default: 'PIXA_PORT', description: 'Same as PIXA_PORT.' },
  PIXA_AUTH_PORT: { default: '5000', description: 'Port of the auth service.' },
  PIXA_STORAGE_PORT: { default: '5001', description: 'Port of the storage service.' },
  PIXA_STORAGE_MONITOR_PORT: { default: '8000', description: 'Port of the storage-monitor service.' },
  PIXA_USAGE_MONITOR_PORT: { default: '8001', description: 'Port of the usage-monitor service.' },
  PIXA_DATA_DIR: { default: './data', description: 'Where embedded mode keeps its database, objects and secrets.' },
  PIXA_DATABASE_URL: {
    default: 'sqlite://<data dir>/pixa.db',
    description:
      '`sqlite:///path`, `mysql://user:pass@host:3306/db[?ssl=true]` or `postgres://user:pass@host:5432/db[?sslmode=require]`.',
  },
  PIX_DB_HOST: { default: '', description: 'Original Pixa: MySQL host (used when PIXA_DATABASE_URL is unset).' },
  PIX_DB_DATABASE: { default: '', description: 'Original Pixa: MySQL database name.' },
  PIX_DB_USER: { default: '', description: 'Original Pixa: MySQL user.' },
  PIX_DB_PASSWORD: { default: '', description: 'Original Pixa: MySQL password.' },
  PIXA_AUTO_MIGRATE: { default: 'true', description: 'Apply database migrations at start-up.' },
  PIXA_DB_POOL_SIZE: { default: '10', description: 'Connections per process for MySQL and PostgreSQL.' },
  PIXA_STORAGE_URL: {
    default: 'file://<data dir>/objects',
    description:
      '`file:///path`, `s3://bucket/prefix?region=&endpoint=&forcePathStyle=` or `azure://container/prefix`.',
  },
  PIXA_AZURE_CONNECTION_STRING: { default: '', description: 'Connection string for `azure://` storage.' },
  PIXA_STORAGE_CONNECTION_STRING: { default: '', description: 'Original Pixa name for the Azure connection string.' },
  PIXA_AUTH_SECRET_KEY: {
    default: 'generated in <data dir>/secret.key',
    description: 'Secret that signs tokens and media URLs. Required in pod mode.',
  },
  PIXA_AUTH_ALGORITHM: { default: 'HS256', description: 'Token signing algorithm: HS256, HS384 or HS512.' },
  PIXA_TOKEN_TTL_HOURS: { default: '24', description: 'How long a sign-in lasts.' },
  PIXA_INTERNAL_TOKEN: {
    default: 'generated in <data dir>/internal.token',
    description: 'Token the services present to each other. Required in pod mode.',
  },
  PIXA_SIGNUP: { default: 'open', description: '`open`: anyone may register; `closed`: only `pixa user create`.' },
  PIXA_SIGNUP_PER_HOUR: {
    default: '20',
    description: 'Accounts one client address may create per hour; 0 = no limit.',
  },
  PIXA_MAX_UPLOAD_MB: { default: '50', description: 'Largest accepted file, in MB.' },
  PIXA_MAX_FILES_PER_UPLOAD: { default: '20', description: 'Most files in one upload request.' },
  PIXA_MAX_PIXELS: { default: '100000000', description: 'Largest accepted image area in pixels (100 MP).' },
  PIXA_STORAGE_QUOTA_MB: { default: '1000', description: 'Storage quota per account in MB; 0 = unlimited.' },
  PIXA_DAILY_TRANSFER_MB: {
    default: '25',
    description:
      'Daily transfer quota per account per UTC day in MB (uploads plus original and preview downloads); 0 = unlimited.',
  },
  PIXA_CACHE_MB: {
    default: '64',
    description: 'Memory for recently served thumbnails (objects up to 256 KB) per process; 0 = no cache.',
  },
  PIXA_MEDIA_URL_TTL_MINUTES: { default: '120', description: 'Lifetime of signed image URLs.' },
  PIXA_REQUEST_TIMEOUT_SECONDS: { default: '300', description: 'Longest a single request (an upload) may take.' },
  PIXA_SHUTDOWN_GRACE_SECONDS: { default: '30', description: 'Time in-flight requests get to finish on SIGTERM.' },
  PIXA_TRUST_PROXY: { default: 'false', description: 'Trust X-Forwarded-For (set behind an HTTP proxy).' },
  PIXA_LOG_LEVEL: { default: 'info', description: 'trace, debug, info, warn, error or silent.' },
  PIXA_LOG_FILE: {
    default: '',
    description:
      'Also write logs to this file, rotated by size (5 old files kept); `{service}` becomes the service name.',
  },
  PIXA_LOG_MAX_MB: { default: '10', description: 'Size at which the log file is rotated.' },
  PIXA_SWEEP_INTERVAL_MINUTES: {
    default: '60',
    description: 'How often the storage service sweeps orphans; 0 = never.',
  },
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads and validates the configuration. Throws ConfigError listing every bad value at once.
 * `overrides` win over `env` (the command line's `--services`).
 */
export function loadConfig(source: Env = process.env, overrides: Env = {}): Readonly<Config> {
  const env: Env = { ...source, ...overrides };
  const problems: string[] = [];
  const str = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  const number = (
    name: string,
    fallback: number,
    min: number,
    max = Number.MAX_SAFE_INTEGER,
    whole = false,
  ): number => {
    const raw = str(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min || value > max || (whole && !Number.isInteger(value))) {
      problems.push(`${name}=${raw} must be a ${whole ? 'whole ' : ''}number from ${min} to ${max}`);
      return fallback;
    }
    return value;
  };
  /** Counts and ports: whole numbers only. */
  const int = (name: string, fallback: number, min: number, max?: number): number =>
    number(name, fallback, min, max, true);
  const bool = (name: string, fallback: boolean): boolean => {
    const raw = str(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
    if (['0', 'false', 'no', 'off'].includes(raw)) return false;
    problems.push(`${name}=${raw} must be true or false`);
    return fallback;
  };
  const oneOf = <T extends string>(name: string, choices: readonly T[], fallback: T): T => {
    const raw = str(name);
    if (raw === undefined) return fallback;
    if ((choices as readonly string[]).includes(raw)) return raw as T;
    problems.push(`${name}=${raw} must be one of ${choices.join(', ')}`);
    return fallback;
  };

  const mode = oneOf('PIXA_MODE', ['embedded', 'pod'], 'embedded');
  const services = parseServices(str('PIXA_SERVICES'), problems);
  const dataDir = path.resolve(str('PIXA_DATA_DIR') ?? './data');
  const gatewayDefault = mode === 'pod' ? SERVICES.gateway.port : SERVICES.gateway.embeddedPort;
  const gatewayPort = int('PIXA_GATEWAY_PORT', int('PIXA_PORT', gatewayDefault, 0, 65535), 0, 65535);
  const ports = {
    gateway: gatewayPort,
    auth: int('PIXA_AUTH_PORT', SERVICES.auth.port, 0, 65535),
    storage: int('PIXA_STORAGE_PORT', SERVICES.storage.port, 0, 65535),
    'storage-monitor': int('PIXA_STORAGE_MONITOR_PORT', SERVICES['storage-monitor'].port, 0, 65535),
    'usage-monitor': int('PIXA_USAGE_MONITOR_PORT', SERVICES['usage-monitor'].port, 0, 65535),
  };

  const databaseUrl = str('PIXA_DATABASE_URL') ?? legacyMysqlUrl(env) ?? `sqlite://${path.join(dataDir, 'pixa.db')}`;
  if (!/^(sqlite|mysql|mariadb|postgres|postgresql):\/\//.test(databaseUrl)) {
    problems.push(`PIXA_DATABASE_URL must start with sqlite://, mysql:// or postgres:// (got ${redact(databaseUrl)})`);
  }
  const storageUrl = str('PIXA_STORAGE_URL') ?? `file://${path.join(dataDir, 'objects')}`;
  if (!/^(file|s3|azure):\/\//.test(storageUrl)) {
    problems.push(`PIXA_STORAGE_URL must start with file://, s3:// or azure:// (got ${storageUrl})`);
  }
  const azureConnectionString = str('PIXA_AZURE_CONNECTION_STRING') ?? str('PIXA_STORAGE_CONNECTION_STRING');
  if (storageUrl.startsWith('azure://') && !azureConnectionString) {
    problems.push('PIXA_AZURE_CONNECTION_STRING is required for azure:// storage');
  }
  const authSecretKey = str('PIXA_AUTH_SECRET_KEY');
  if (authSecretKey !== undefined && authSecretKey.length < 32) {
    problems.push('PIXA_AUTH_SECRET_KEY must be at least 32 characters');
  }
  const internalToken = str('PIXA_INTERNAL_TOKEN');
  if (mode === 'pod') {
    if (!authSecretKey) problems.push('PIXA_AUTH_SECRET_KEY is required in pod mode (all replicas must share it)');
    if (!internalToken) problems.push('PIXA_INTERNAL_TOKEN is required in pod mode');
  }

  const config: Config = {
    mode,
    services,
    host: str('PIXA_HOST') ?? '0.0.0.0',
    internalHost: str('PIXA_INTERNAL_HOST') ?? '127.0.0.1',
    ports,
    dataDir,
    databaseUrl,
    autoMigrate: bool('PIXA_AUTO_MIGRATE', true),
    dbPoolSize: int('PIXA_DB_POOL_SIZE', 10, 1, 1000),
    storageUrl,
    azureConnectionString,
    authSecretKey,
    authAlgorithm: oneOf('PIXA_AUTH_ALGORITHM', ['HS256', 'HS384', 'HS512'], 'HS256'),
    tokenTtlSeconds: Math.round(number('PIXA_TOKEN_TTL_HOURS', 24, 0.01, 24 * 365) * 3600),
    internalToken,
    signup: oneOf('PIXA_SIGNUP', ['open', 'closed'], 'open'),
    signupPerHour: int('PIXA_SIGNUP_PER_HOUR', 20, 0, 1_000_000),
    maxUploadBytes: Math.round(number('PIXA_MAX_UPLOAD_MB', 50, 0.001, 10_000) * MB),
    maxFilesPerUpload: int('PIXA_MAX_FILES_PER_UPLOAD', 20, 1, 1000),
    maxPixels: int('PIXA_MAX_PIXELS', 100_000_000, 1),
    storageQuotaBytes: Math.round(number('PIXA_STORAGE_QUOTA_MB', 1000, 0) * MB),
    dailyTransferBytes: Math.round(number('PIXA_DAILY_TRANSFER_MB', 25, 0) * MB),
    cacheBytes: Math.round(number('PIXA_CACHE_MB', 64, 0, 100_000) * MB),
    mediaUrlTtlSeconds: Math.round(number('PIXA_MEDIA_URL_TTL_MINUTES', 120, 1, 7 * 24 * 60) * 60),
    requestTimeoutMs: Math.round(number('PIXA_REQUEST_TIMEOUT_SECONDS', 300, 1, 86_400) * 1000),
    shutdownGraceMs: Math.round(number('PIXA_SHUTDOWN_GRACE_SECONDS', 30, 0, 3600) * 1000),
    trustProxy: bool('PIXA_TRUST_PROXY', false),
    logLevel: oneOf('PIXA_LOG_LEVEL', ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], 'info'),
    logFile: str('PIXA_LOG_FILE'),
    logMaxBytes: Math.round(number('PIXA_LOG_MAX_MB', 10, 0.01, 100_000) * MB),
    sweepIntervalSeconds: Math.round(number('PIXA_SWEEP_INTERVAL_MINUTES', 60, 0, 7 * 24 * 60) * 60),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({ ...config, ports: Object.freeze(config.ports), services: Object.freeze(config.services) });
}

function parseServices(raw: string | undefined, problems: string[]): ServiceName[] {
  if (raw === undefined || raw === 'all') return [...SERVICE_NAMES];
  const names = raw
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const unknown = names.filter((name) => !(SERVICE_NAMES as string[]).includes(name));
  if (unknown.length > 0 || names.length === 0) {
    problems.push(`PIXA_SERVICES=${raw} must list services from: ${SERVICE_NAMES.join(', ')}`);
    return [...SERVICE_NAMES];
  }
  return [...new Set(names)] as ServiceName[];
}

function legacyMysqlUrl(env: Env): string | undefined {
  const host = env.PIX_DB_HOST?.trim();
  if (!host) return undefined;
  // Set but empty, as manifests often leave them, means the default too.
  const user = encodeURIComponent(env.PIX_DB_USER?.trim() || 'root');
  const password = env.PIX_DB_PASSWORD ? `:${encodeURIComponent(env.PIX_DB_PASSWORD)}` : '';
  const database = encodeURIComponent(env.PIX_DB_DATABASE?.trim() || 'pixa');
  const hostPort = host.includes(':') ? host : `${host}:3306`;
  return `mysql://${user}${password}@${hostPort}/${database}`;
}

/** Hides the password of a connection URL for messages and logs. */
export function redact(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@');
}
