import { Type, type Static, type TSchema } from 'typebox';

import { DEFAULT_DECODE_MEMORY_MB } from '../image/decode-gate.js';
import { SERVICES } from './service-table.js';

/**
 * Every environment variable Pixa reads: its type, bounds, default and meaning, written once. The
 * loader (config.ts), `pixa help env` and the README's configuration table all come from this object.
 *
 * To add a variable: add one entry here (a default goes in `default`; a default that depends on
 * another setting goes in `docDefault` as text and is computed in config.ts), then map it to a field
 * of Config in `toConfig` (config.ts). Integer means whole numbers only (counts, ports); Number allows
 * fractions (sizes in MB, times). `secret: true` keeps the value out of every message.
 */
export const EnvSchema = Type.Object({
  PIXA_SERVICES: Type.Optional(
    Type.String({ docDefault: 'all five', description: 'Comma-separated services this process runs.' }),
  ),
  PIXA_MODE: Type.Enum(['embedded', 'pod'], {
    default: 'embedded',
    description: '`embedded` (services call each other in process) or `pod` (over HTTP on 127.0.0.1).',
  }),
  PIXA_HOST: Type.String({ default: '0.0.0.0', description: 'Address the public gateway listens on.' }),
  PIXA_INTERNAL_HOST: Type.String({ default: '127.0.0.1', description: 'Address the internal services listen on.' }),
  PIXA_PORT: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 65535,
      docDefault: `${SERVICES.gateway.embeddedPort} embedded, ${SERVICES.gateway.port} pod`,
      description: 'Port of the gateway (the only public port).',
    }),
  ),
  PIXA_GATEWAY_PORT: Type.Optional(
    Type.Integer({ minimum: 0, maximum: 65535, docDefault: 'PIXA_PORT', description: 'Same as PIXA_PORT.' }),
  ),
  PIXA_AUTH_PORT: port(SERVICES.auth.port, 'Port of the auth service.'),
  PIXA_STORAGE_PORT: port(SERVICES.storage.port, 'Port of the storage service.'),
  PIXA_STORAGE_MONITOR_PORT: port(SERVICES['storage-monitor'].port, 'Port of the storage-monitor service.'),
  PIXA_USAGE_MONITOR_PORT: port(SERVICES['usage-monitor'].port, 'Port of the usage-monitor service.'),
  PIXA_DATA_DIR: Type.String({
    default: './data',
    description: 'Where embedded mode keeps its database, objects and secrets.',
  }),
  PIXA_DATABASE_URL: Type.Optional(
    Type.String({
      pattern: '^(sqlite|mysql|mariadb|postgres|postgresql)://',
      expected: 'start with sqlite://, mysql:// or postgres://',
      url: true,
      docDefault: 'sqlite://<data dir>/pixa.db',
      description:
        '`sqlite:///path`, `mysql://user:pass@host:3306/db[?ssl=true]` or `postgres://user:pass@host:5432/db[?sslmode=require]`.',
    }),
  ),
  PIX_DB_HOST: Type.Optional(
    Type.String({ description: 'Original Pixa: MySQL host (used when PIXA_DATABASE_URL is unset).' }),
  ),
  PIX_DB_DATABASE: Type.Optional(Type.String({ description: 'Original Pixa: MySQL database name.' })),
  PIX_DB_USER: Type.Optional(Type.String({ description: 'Original Pixa: MySQL user.' })),
  PIX_DB_PASSWORD: Type.Optional(Type.String({ secret: true, description: 'Original Pixa: MySQL password.' })),
  PIXA_AUTO_MIGRATE: Type.Boolean({ default: true, description: 'Apply database migrations at start-up.' }),
  PIXA_DB_POOL_SIZE: Type.Integer({
    default: 10,
    minimum: 1,
    maximum: 1000,
    description: 'Connections per process for MySQL and PostgreSQL.',
  }),
  PIXA_STORAGE_URL: Type.Optional(
    Type.String({
      pattern: '^(file|s3|azure)://',
      expected: 'start with file://, s3:// or azure://',
      url: true,
      docDefault: 'file://<data dir>/objects',
      description:
        '`file:///path`, `s3://bucket/prefix?region=&endpoint=&forcePathStyle=` or `azure://container/prefix`.',
    }),
  ),
  PIXA_AZURE_CONNECTION_STRING: Type.Optional(
    Type.String({ secret: true, description: 'Connection string for `azure://` storage.' }),
  ),
  PIXA_STORAGE_CONNECTION_STRING: Type.Optional(
    Type.String({ secret: true, description: 'Original Pixa name for the Azure connection string.' }),
  ),
  PIXA_AUTH_SECRET_KEY: Type.Optional(
    Type.String({
      minLength: 32,
      expected: 'be at least 32 characters',
      secret: true,
      docDefault: 'generated in <data dir>/secret.key',
      description: 'Secret that signs tokens and media URLs. Required in pod mode.',
    }),
  ),
  PIXA_AUTH_ALGORITHM: Type.Enum(['HS256', 'HS384', 'HS512'], {
    default: 'HS256',
    description: 'Token signing algorithm: HS256, HS384 or HS512.',
  }),
  PIXA_TOKEN_TTL_HOURS: Type.Number({
    default: 24,
    minimum: 0.01,
    maximum: 24 * 365,
    description: 'How long a sign-in lasts.',
  }),
  PIXA_INTERNAL_TOKEN: Type.Optional(
    Type.String({
      secret: true,
      docDefault: 'generated in <data dir>/internal.token',
      description: 'Token the services present to each other. Required in pod mode.',
    }),
  ),
  PIXA_SIGNUP: Type.Enum(['open', 'closed'], {
    default: 'open',
    description: '`open`: anyone may register; `closed`: only `pixa user create`.',
  }),
  PIXA_SIGNUP_PER_HOUR: Type.Integer({
    default: 20,
    minimum: 0,
    maximum: 1_000_000,
    description: 'Accounts one client address may create per hour; 0 = no limit.',
  }),
  PIXA_MAX_UPLOAD_MB: Type.Number({
    default: 50,
    minimum: 0.001,
    maximum: 10_000,
    description: 'Largest accepted file, in MB.',
  }),
  PIXA_MAX_FILES_PER_UPLOAD: Type.Integer({
    default: 20,
    minimum: 1,
    maximum: 1000,
    description: 'Most files in one upload request.',
  }),
  PIXA_MAX_PIXELS: Type.Integer({
    default: 100_000_000,
    minimum: 1,
    description: 'Largest accepted image area in pixels (100 MP).',
  }),
  PIXA_DECODE_CONCURRENCY: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 1024,
      docDefault: 'cores, at most 2',
      description: 'Images one process decodes at once; more wait their turn (docs/OPERATIONS.md, sizing).',
    }),
  ),
  PIXA_DECODE_MEMORY_MB: Type.Number({
    default: DEFAULT_DECODE_MEMORY_MB,
    minimum: 16,
    maximum: 1_000_000,
    description: 'Memory one process decodes images with; a decode waits for room, one that never fits gets 413.',
  }),
  PIXA_STORAGE_QUOTA_MB: Type.Number({
    default: 1000,
    minimum: 0,
    description: 'Storage quota per account in MB; 0 = unlimited.',
  }),
  PIXA_DAILY_TRANSFER_MB: Type.Number({
    default: 25,
    minimum: 0,
    description:
      'Daily transfer quota per account per UTC day in MB (uploads plus original and preview downloads); 0 = unlimited.',
  }),
  PIXA_CACHE_MB: Type.Number({
    default: 64,
    minimum: 0,
    maximum: 100_000,
    description: 'Memory for recently served thumbnails (objects up to 256 KB) per process; 0 = no cache.',
  }),
  PIXA_MEDIA_URL_TTL_MINUTES: Type.Number({
    default: 120,
    minimum: 1,
    maximum: 7 * 24 * 60,
    description: 'Lifetime of signed image URLs.',
  }),
  PIXA_REQUEST_TIMEOUT_SECONDS: Type.Number({
    default: 300,
    minimum: 1,
    maximum: 86_400,
    description: 'Longest a single request (an upload) may take.',
  }),
  PIXA_SHUTDOWN_GRACE_SECONDS: Type.Number({
    default: 30,
    minimum: 0,
    maximum: 3600,
    description: 'Time in-flight requests get to finish on SIGTERM.',
  }),
  PIXA_STARTUP_WAIT_SECONDS: Type.Number({
    default: 60,
    minimum: 0,
    maximum: 3600,
    description:
      'Pod mode: how long start-up retries, with back-off, a database or object store that is not up yet; 0 = fail at once.',
  }),
  PIXA_TRUST_PROXY: Type.Boolean({ default: false, description: 'Trust X-Forwarded-For (set behind an HTTP proxy).' }),
  PIXA_LOG_LEVEL: Type.Enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], {
    default: 'info',
    description: 'trace, debug, info, warn, error or silent.',
  }),
  PIXA_LOG_FILE: Type.Optional(
    Type.String({
      description:
        'Also write logs to this file, rotated by size (5 old files kept); `{service}` becomes the service name.',
    }),
  ),
  PIXA_LOG_MAX_MB: Type.Number({
    default: 10,
    minimum: 0.01,
    maximum: 100_000,
    description: 'Size at which the log file is rotated.',
  }),
  PIXA_SWEEP_INTERVAL_MINUTES: Type.Number({
    default: 60,
    minimum: 0,
    maximum: 7 * 24 * 60,
    description: 'How often the storage service sweeps orphans; 0 = never.',
  }),
  PIXA_EVENT_RETENTION_DAYS: Type.Integer({
    default: 30,
    minimum: 1,
    maximum: 36_500,
    description:
      'Days the storage event log keeps one row per event; older days are rolled up into daily totals per account.',
  }),
  PIXA_TRASH_DAYS: Type.Number({
    default: 30,
    minimum: 0,
    maximum: 36_500,
    description:
      'Days a deleted photo stays in the trash (still counted in the storage quota) before the sweeper deletes it for good; 0 = delete at once.',
  }),
  PIXA_STAGING_MB: Type.Number({
    default: 1024,
    minimum: 0,
    description:
      'Disk all uploads in progress of one process may take in PIXA_DATA_DIR/tmp; more get 503 with Retry-After. 0 = no limit.',
  }),
  PIXA_UPLOADS_PER_ACCOUNT: Type.Integer({
    default: 4,
    minimum: 0,
    maximum: 1000,
    description:
      'Uploads one account may have in progress per process; more wait their turn (up to a minute). 0 = no limit.',
  }),
  PIXA_MIN_FREE_MB: Type.Number({
    default: 100,
    minimum: 0,
    description:
      '/readyz reports `diskSpace` unavailable when the data, staging or file-store directory has less free. 0 = off.',
  }),
});

/** The environment after parsing: typed values, defaults filled in, unset optional variables absent. */
export type Env = Static<typeof EnvSchema>;

export type EnvName = keyof Env;

function port(fallback: number, description: string) {
  return Type.Integer({ default: fallback, minimum: 0, maximum: 65535, description });
}

/** What the schema says about one variable, in the words the docs and `pixa help env` use. */
export interface EnvVarDoc {
  name: string;
  default: string;
  description: string;
}

/** One entry per variable, in schema order. */
export function envVarDocs(): EnvVarDoc[] {
  return Object.entries(EnvSchema.properties).map(([name, schema]) => {
    const options = schema as TSchema & { default?: unknown; docDefault?: string; description?: string };
    const fallback = options.docDefault ?? (options.default === undefined ? '' : String(options.default));
    return { name, default: fallback, description: options.description ?? '' };
  });
}

/** The README's configuration table, column-aligned as Prettier leaves it. */
export function envMarkdownTable(): string {
  const rows = [
    ['Variable', 'Default', 'Meaning'],
    ...envVarDocs().map((doc) => [`\`${doc.name}\``, doc.default || '—', doc.description]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (row: string[]) => `| ${row.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  return [line(rows[0]!), line(widths.map((width) => '-'.repeat(width))), ...rows.slice(1).map(line)]
    .join('\n')
    .concat('\n');
}
