import path from 'node:path';

import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';

import { defaultDecodeConcurrency } from '../image/decode-gate.js';
import { redactUrl } from '../lib/redact.js';
import { EnvSchema, envVarDocs, type Env } from './env-schema.js';
import { SERVICE_NAMES, SERVICES, type ServiceName } from './service-table.js';

export { redactUrl as redact } from '../lib/redact.js';

/** Pixa's whole configuration, read once from the environment at start-up and frozen. */
export type Config = Readonly<ReturnType<typeof toConfig>>;

/**
 * Every environment variable Pixa reads, with its default and meaning as the docs show them (taken
 * from the schema in env-schema.ts). The deployment tests check manifests against it.
 */
export const ENV_VARS: Readonly<Record<string, { default: string; description: string }>> = Object.freeze(
  Object.fromEntries(envVarDocs().map((doc) => [doc.name, { default: doc.default, description: doc.description }])),
);

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type RawEnv = Readonly<Record<string, string | undefined>>;

const MB = 1024 * 1024;

/**
 * Reads and validates the configuration. Throws ConfigError listing every bad value at once.
 * `overrides` win over `env` (the command line's `--services`).
 */
export function loadConfig(source: RawEnv = process.env, overrides: RawEnv = {}): Config {
  const problems: string[] = [];
  const env = readEnv({ ...source, ...overrides }, problems);
  const config = toConfig(env, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({ ...config, ports: Object.freeze(config.ports), services: Object.freeze(config.services) });
}

/** From the parsed variables to the shape the code uses: units converted, derived defaults filled in. */
function toConfig(env: Env, problems: string[]) {
  const mode = env.PIXA_MODE;
  const dataDir = path.resolve(env.PIXA_DATA_DIR);
  const gatewayDefault = mode === 'pod' ? SERVICES.gateway.port : SERVICES.gateway.embeddedPort;
  const ports: Record<ServiceName, number> = {
    gateway: env.PIXA_GATEWAY_PORT ?? env.PIXA_PORT ?? gatewayDefault,
    auth: env.PIXA_AUTH_PORT,
    storage: env.PIXA_STORAGE_PORT,
    'storage-monitor': env.PIXA_STORAGE_MONITOR_PORT,
    'usage-monitor': env.PIXA_USAGE_MONITOR_PORT,
  };
  const storageUrl = env.PIXA_STORAGE_URL ?? `file://${path.join(dataDir, 'objects')}`;
  const azureConnectionString = env.PIXA_AZURE_CONNECTION_STRING ?? env.PIXA_STORAGE_CONNECTION_STRING;
  if (storageUrl.startsWith('azure://') && !azureConnectionString) {
    problems.push('PIXA_AZURE_CONNECTION_STRING is required for azure:// storage');
  }
  if (mode === 'pod') {
    if (!env.PIXA_AUTH_SECRET_KEY) {
      problems.push('PIXA_AUTH_SECRET_KEY is required in pod mode (all replicas must share it)');
    }
    if (!env.PIXA_INTERNAL_TOKEN) problems.push('PIXA_INTERNAL_TOKEN is required in pod mode');
  }
  return {
    mode,
    services: parseServices(env.PIXA_SERVICES, problems) as readonly ServiceName[],
    host: env.PIXA_HOST,
    internalHost: env.PIXA_INTERNAL_HOST,
    ports: ports as Readonly<Record<ServiceName, number>>,
    dataDir,
    databaseUrl: env.PIXA_DATABASE_URL ?? legacyMysqlUrl(env) ?? `sqlite://${path.join(dataDir, 'pixa.db')}`,
    autoMigrate: env.PIXA_AUTO_MIGRATE,
    dbPoolSize: env.PIXA_DB_POOL_SIZE,
    storageUrl,
    azureConnectionString,
    authSecretKey: env.PIXA_AUTH_SECRET_KEY,
    authAlgorithm: env.PIXA_AUTH_ALGORITHM,
    tokenTtlSeconds: Math.round(env.PIXA_TOKEN_TTL_HOURS * 3600),
    internalToken: env.PIXA_INTERNAL_TOKEN,
    signup: env.PIXA_SIGNUP,
    signupPerHour: env.PIXA_SIGNUP_PER_HOUR,
    maxUploadBytes: Math.round(env.PIXA_MAX_UPLOAD_MB * MB),
    maxFilesPerUpload: env.PIXA_MAX_FILES_PER_UPLOAD,
    maxPixels: env.PIXA_MAX_PIXELS,
    decodeConcurrency: env.PIXA_DECODE_CONCURRENCY ?? defaultDecodeConcurrency(),
    decodeMemoryBytes: Math.round(env.PIXA_DECODE_MEMORY_MB * MB),
    storageQuotaBytes: Math.round(env.PIXA_STORAGE_QUOTA_MB * MB),
    dailyTransferBytes: Math.round(env.PIXA_DAILY_TRANSFER_MB * MB),
    cacheBytes: Math.round(env.PIXA_CACHE_MB * MB),
    mediaUrlTtlSeconds: Math.round(env.PIXA_MEDIA_URL_TTL_MINUTES * 60),
    requestTimeoutMs: Math.round(env.PIXA_REQUEST_TIMEOUT_SECONDS * 1000),
    shutdownGraceMs: Math.round(env.PIXA_SHUTDOWN_GRACE_SECONDS * 1000),
    startupWaitMs: Math.round(env.PIXA_STARTUP_WAIT_SECONDS * 1000),
    trustProxy: env.PIXA_TRUST_PROXY,
    logLevel: env.PIXA_LOG_LEVEL as string,
    logFile: env.PIXA_LOG_FILE,
    logMaxBytes: Math.round(env.PIXA_LOG_MAX_MB * MB),
    sweepIntervalSeconds: Math.round(env.PIXA_SWEEP_INTERVAL_MINUTES * 60),
    eventRetentionDays: env.PIXA_EVENT_RETENTION_DAYS,
    trashDays: env.PIXA_TRASH_DAYS,
    stagingBytes: Math.round(env.PIXA_STAGING_MB * MB),
    uploadsPerAccount: env.PIXA_UPLOADS_PER_ACCOUNT,
    minFreeBytes: Math.round(env.PIXA_MIN_FREE_MB * MB),
  };
}

/** The schema keywords and Pixa's own annotations (`expected`, `url`, `secret`) that the reader uses. */
interface VarSchema extends TSchema {
  type?: 'string' | 'integer' | 'number' | 'boolean';
  enum?: readonly string[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  expected?: string;
  url?: boolean;
  secret?: boolean;
}

/**
 * Parses each variable the schema lists: blank means unset (manifests often leave keys empty), numbers
 * and booleans are converted from text, and a value the schema refuses is reported and replaced by its
 * default so that every other problem is still found.
 */
function readEnv(source: RawEnv, problems: string[]): Env {
  const values: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(EnvSchema.properties) as [string, VarSchema][]) {
    const raw = source[name]?.trim();
    if (raw) {
      const value = fromText(schema, raw);
      if (Value.Check(schema, value)) {
        values[name] = value;
        continue;
      }
      problems.push(problem(name, schema, raw));
    }
    if (schema.default !== undefined) values[name] = schema.default;
  }
  return values as Env;
}

const TRUE = ['1', 'true', 'yes', 'on'];
const FALSE = ['0', 'false', 'no', 'off'];

function fromText(schema: VarSchema, raw: string): unknown {
  switch (schema.type) {
    case 'integer':
    case 'number':
      return Number(raw);
    case 'boolean':
      return TRUE.includes(raw.toLowerCase()) ? true : FALSE.includes(raw.toLowerCase()) ? false : raw;
    default:
      return raw;
  }
}

/** One line per bad value; a secret's value is never shown and a URL's credentials are hidden. */
function problem(name: string, schema: VarSchema, raw: string): string {
  if (schema.secret) return `${name} must ${schema.expected ?? 'be valid'}`;
  if (schema.url) return `${name} must ${schema.expected ?? 'be a URL'} (got ${redactUrl(raw)})`;
  const range = `from ${schema.minimum ?? Number.MIN_SAFE_INTEGER} to ${schema.maximum ?? Number.MAX_SAFE_INTEGER}`;
  switch (schema.type) {
    case 'integer':
      return `${name}=${raw} must be a whole number ${range}`;
    case 'number':
      return `${name}=${raw} must be a number ${range}`;
    case 'boolean':
      return `${name}=${raw} must be true or false`;
  }
  if (schema.enum) return `${name}=${raw} must be one of ${schema.enum.join(', ')}`;
  return `${name}=${raw} must ${schema.expected ?? 'be valid'}`;
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

/** The original Pixa's PIX_DB_* variables as a MySQL URL; used only when PIXA_DATABASE_URL is unset. */
function legacyMysqlUrl(env: Env): string | undefined {
  if (!env.PIX_DB_HOST) return undefined;
  // Set but empty, as manifests often leave them, means the default too.
  const user = encodeURIComponent(env.PIX_DB_USER ?? 'root');
  const password = env.PIX_DB_PASSWORD ? `:${encodeURIComponent(env.PIX_DB_PASSWORD)}` : '';
  const database = encodeURIComponent(env.PIX_DB_DATABASE ?? 'pixa');
  const hostPort = env.PIX_DB_HOST.includes(':') ? env.PIX_DB_HOST : `${env.PIX_DB_HOST}:3306`;
  return `mysql://${user}${password}@${hostPort}/${database}`;
}
