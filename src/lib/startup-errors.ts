import { networkErrorKind } from './network-errors.js';
import { redactText, redactUrl } from './redact.js';

/**
 * Start-up failures in plain words: which setting, what was tried (credentials hidden) and the fix,
 * instead of a driver's stack trace. Errors of pg, mysql2, better-sqlite3, the AWS and Azure SDKs and
 * Node are told apart by their code, name and status, without importing any of those libraries.
 */

/** What start-up was trying to reach when it failed. */
export type StartupTarget =
  | { kind: 'database'; url: string }
  | { kind: 'store'; url: string; azureConnectionString?: string }
  | { kind: 'listen'; setting: string; hostSetting: string; host: string; port: number };

export interface StartupExplanation {
  /** What failed, naming the setting and what was tried. */
  problem: string;
  /** What to do about it. */
  fix: string;
  /** The dependency may merely not be up yet: worth waiting for (pod mode does). */
  transient: boolean;
}

/** A start-up failure that has been explained; the command prints it and exits non-zero. */
export class StartupError extends Error {
  constructor(
    readonly explanation: StartupExplanation,
    options?: { cause?: unknown },
  ) {
    super(explanation.problem, options);
    this.name = 'StartupError';
  }
}

/** The two lines a command prints for an explained failure. */
export function formatStartupError(explanation: StartupExplanation): string {
  return `pixa: ${explanation.problem}\n  ${explanation.fix}\n`;
}

export function explainStartupError(error: unknown, target: StartupTarget): StartupExplanation {
  if (error instanceof StartupError) return error.explanation;
  const facts = factsOf(error);
  switch (target.kind) {
    case 'database':
      return explainDatabase(facts, target.url);
    case 'store':
      return explainStore(facts, target.url, target.azureConnectionString);
    case 'listen':
      return explainListen(facts, target);
  }
}

/** Which dependency an error that was not caught at a known step most likely came from. */
export function guessTarget(error: unknown, databaseUrl: string, storageUrl: string): StartupTarget | undefined {
  const facts = factsOf(error);
  // SQLSTATEs (PostgreSQL) have five characters with a digit, unlike Node's EPIPE or EPERM.
  if (
    facts.codes.some((code) => /^(ER_|SQLITE_|HANDSHAKE_|PROTOCOL_)/.test(code) || /^(?=.*\d)[0-9A-Z]{5}$/.test(code))
  ) {
    return { kind: 'database', url: databaseUrl };
  }
  if (facts.hasSeverity) return { kind: 'database', url: databaseUrl };
  if (facts.status !== undefined || facts.names.some((name) => /^(RestError|StoreUnavailableError)$/.test(name))) {
    return { kind: 'store', url: storageUrl };
  }
  return undefined;
}

interface Facts {
  codes: string[];
  names: string[];
  messages: string[];
  status: number | undefined;
  hasSeverity: boolean;
  network: 'connection' | 'timeout' | undefined;
}

/** Codes, names, messages and HTTP status of an error, its causes and an AggregateError's errors. */
function factsOf(error: unknown): Facts {
  const facts: Facts = {
    codes: [],
    names: [],
    messages: [],
    status: undefined,
    hasSeverity: false,
    network: undefined,
  };
  facts.network = networkErrorKind(error);
  const seen = new Set<unknown>();
  const visit = (value: unknown, depth: number): void => {
    if (value === null || typeof value !== 'object' || seen.has(value) || depth > 8) return;
    seen.add(value);
    const err = value as Record<string, unknown>;
    if (typeof err.code === 'string') facts.codes.push(err.code);
    if (typeof err.name === 'string') facts.names.push(err.name);
    if (typeof err.message === 'string' && err.message) facts.messages.push(err.message);
    if (typeof err.severity === 'string') facts.hasSeverity = true;
    const metadata = err.$metadata as { httpStatusCode?: unknown } | undefined;
    const status = err.statusCode ?? metadata?.httpStatusCode;
    if (typeof status === 'number' && facts.status === undefined) facts.status = status;
    if (Array.isArray(err.errors)) for (const inner of err.errors) visit(inner, depth + 1);
    visit(err.cause, depth + 1);
  };
  visit(error, 0);
  return facts;
}

const has = (facts: Facts, ...codes: string[]) => facts.codes.some((code) => codes.includes(code));
const says = (facts: Facts, pattern: RegExp) => facts.messages.some((message) => pattern.test(message));
/** The driver's own words, credentials removed, for the cases without a better sentence. */
const driverSays = (facts: Facts) => redactText(facts.messages.at(-1) ?? facts.codes[0] ?? 'unknown error');

const TLS_CERT_CODES = [
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
];

interface ParsedUrl {
  scheme: string;
  host: string;
  port: string;
  user: string;
  path: string;
}

function parseUrl(url: string): ParsedUrl {
  try {
    const parsed = new URL(url);
    return {
      scheme: parsed.protocol.replace(/:$/, ''),
      host: parsed.hostname,
      port: parsed.port,
      user: decodeURIComponent(parsed.username),
      path: decodeURIComponent(parsed.pathname.replace(/^\//, '')),
    };
  } catch {
    return { scheme: url.split(':')[0] ?? '', host: '', port: '', user: '', path: '' };
  }
}

function explainDatabase(facts: Facts, url: string): StartupExplanation {
  const shown = `PIXA_DATABASE_URL=${redactUrl(url)}`;
  const { scheme, host, port: givenPort, user, path } = parseUrl(url);
  const postgres = scheme.startsWith('postgres');
  if (scheme === 'sqlite') {
    const file = url.slice('sqlite://'.length);
    const transient = has(facts, 'SQLITE_BUSY', 'SQLITE_LOCKED');
    return {
      problem: `cannot open the SQLite database ${file} (${shown}): ${driverSays(facts)}`,
      fix: transient
        ? 'Another process holds the database locked; stop it or try again.'
        : 'Make sure its directory exists and Pixa may write there (PIXA_DATA_DIR), and that the file is a Pixa database.',
      transient,
    };
  }
  const port = givenPort || (postgres ? '5432' : '3306');
  const server = `${host}:${port}`;
  const fixed = (problem: string, fix: string, transient = false) => ({
    problem: `${problem} (${shown})`,
    fix,
    transient,
  });

  if (has(facts, '3D000', 'ER_BAD_DB_ERROR')) {
    const create = postgres
      ? `createdb -h ${host} -p ${port}${user ? ` -U ${user}` : ''} ${path}`
      : `mysql -h ${host} -P ${port}${user ? ` -u ${user}` : ''} -p -e 'CREATE DATABASE \`${path}\`'`;
    return fixed(
      `the database "${path}" does not exist on ${server}`,
      `Create it (${create}) or name an existing one in PIXA_DATABASE_URL.`,
    );
  }
  const tlsRequired =
    has(facts, 'ER_SECURE_TRANSPORT_REQUIRED') ||
    says(facts, /no pg_hba\.conf entry.*(SSL off|no encryption)|secure transport|requires? (SSL|TLS)/i);
  if (tlsRequired) {
    return fixed(
      `the database server ${server} requires an encrypted (TLS) connection`,
      postgres ? 'Add ?sslmode=require (or verify-full) to PIXA_DATABASE_URL.' : 'Add ?ssl=true to PIXA_DATABASE_URL.',
    );
  }
  if (has(facts, 'HANDSHAKE_NO_SSL_SUPPORT') || says(facts, /does not support SSL/i)) {
    return fixed(
      `the database server ${server} does not offer TLS, but PIXA_DATABASE_URL asks for it`,
      `Enable TLS on the server, or remove ${postgres ? 'sslmode' : 'ssl'} from PIXA_DATABASE_URL on a trusted network.`,
    );
  }
  if (has(facts, ...TLS_CERT_CODES)) {
    return fixed(
      `the TLS certificate of the database server ${server} was not accepted (${facts.codes.find((code) => TLS_CERT_CODES.includes(code))})`,
      'Use the name the certificate was issued for, or give the server a certificate from a trusted authority.',
    );
  }
  if (
    has(
      facts,
      '28P01',
      '28000',
      'ER_ACCESS_DENIED_ERROR',
      'ER_ACCESS_DENIED_NO_PASSWORD_ERROR',
      'ER_DBACCESS_DENIED_ERROR',
      'ER_NOT_SUPPORTED_AUTH_MODE',
    )
  ) {
    return fixed(
      `the database server ${server} refused the credentials of user "${user}": ${driverSays(facts)}`,
      'Check the user and password in PIXA_DATABASE_URL (or PIX_DB_USER/PIX_DB_PASSWORD), and that the user may use this database.',
    );
  }
  if (has(facts, '57P03', 'ER_SERVER_SHUTDOWN', 'ER_CON_COUNT_ERROR', '53300')) {
    return fixed(
      `the database server ${server} is not accepting connections yet: ${driverSays(facts)}`,
      'Wait for it to finish starting (pod mode waits PIXA_STARTUP_WAIT_SECONDS), or raise its connection limit.',
      true,
    );
  }
  if (facts.network) return fixed(...unreachable(facts, `the database server ${server}`, 'PIXA_DATABASE_URL'), true);
  return fixed(`the database at ${server} could not be opened: ${driverSays(facts)}`, 'Check PIXA_DATABASE_URL.');
}

/** Problem and fix for a server that could not be reached; both name the setting to check. */
function unreachable(facts: Facts, what: string, setting: string): [string, string] {
  if (has(facts, 'ENOTFOUND', 'EAI_AGAIN')) {
    return [`${what} cannot be found: its host name does not resolve`, `Check the host name in ${setting}.`];
  }
  if (facts.network === 'timeout') {
    return [`${what} did not answer in time`, `Check that it is running and that ${setting} names it.`];
  }
  const refused = has(facts, 'ECONNREFUSED') ? 'refused the connection' : 'could not be reached';
  return [`${what} ${refused}`, `Start it, or correct the host and port in ${setting}.`];
}

/** The blob endpoint a connection string names (its keys are never part of the answer). */
function azureEndpoint(connectionString: string | undefined): string | undefined {
  const parts = new Map(
    (connectionString ?? '')
      .split(';')
      .map((part) => part.split('=', 2) as [string, string])
      .map(([key, value]) => [key.trim().toLowerCase(), value?.trim() ?? ''] as const),
  );
  if (parts.get('blobendpoint')) return redactUrl(parts.get('blobendpoint')!);
  const account = parts.get('accountname');
  if (!account) return undefined;
  return `${parts.get('defaultendpointsprotocol') || 'https'}://${account}.blob.${parts.get('endpointsuffix') || 'core.windows.net'}`;
}

function explainStore(facts: Facts, url: string, azureConnectionString?: string): StartupExplanation {
  const shown = `PIXA_STORAGE_URL=${redactUrl(url)}`;
  const { scheme, host: bucket } = parseUrl(url);
  const fixed = (problem: string, fix: string, transient = false) => ({
    problem: `${problem} (${shown})`,
    fix,
    transient,
  });
  if (scheme === 'file') {
    const dir = url.slice('file://'.length);
    return fixed(
      `cannot use the object directory ${dir}: ${driverSays(facts)}`,
      has(facts, 'ENOSPC')
        ? 'Free some space on that disk.'
        : 'Make sure the directory can be created and Pixa may write there (PIXA_STORAGE_URL or PIXA_DATA_DIR).',
    );
  }
  const azure = scheme === 'azure';
  const place = azure ? `Azure container "${bucket}"` : `S3 bucket "${bucket}"`;
  const endpoint = new URLSearchParams(url.split('?')[1] ?? '').get('endpoint');
  if (facts.network) {
    const blob = azureEndpoint(azureConnectionString);
    const what = azure
      ? `the Azure Blob endpoint${blob ? ` ${blob}` : ''}`
      : `the S3 endpoint${endpoint ? ` ${endpoint}` : ''}`;
    const setting = azure ? 'PIXA_AZURE_CONNECTION_STRING' : 'PIXA_STORAGE_URL';
    return fixed(...unreachable(facts, what, setting), true);
  }
  if (has(facts, 'NoSuchBucket', 'ContainerNotFound', 'NotFound') || facts.status === 404) {
    return fixed(
      `the ${place} does not exist`,
      azure
        ? `Create it (az storage container create --name ${bucket} --connection-string "$PIXA_AZURE_CONNECTION_STRING") or name an existing one.`
        : `Create it (aws s3 mb s3://${bucket}${endpoint ? ` --endpoint-url ${endpoint}` : ''}) or name an existing one.`,
    );
  }
  const denied = [
    'InvalidAccessKeyId',
    'SignatureDoesNotMatch',
    'AccessDenied',
    'Forbidden',
    'AuthenticationFailed',
    'AuthorizationFailure',
    'CredentialsProviderError',
  ];
  if (has(facts, ...denied) || facts.names.some((name) => denied.includes(name)) || facts.status === 403) {
    return fixed(
      `the ${place} refused Pixa's credentials`,
      azure
        ? 'Check the account name and key in PIXA_AZURE_CONNECTION_STRING.'
        : 'Check accessKeyId/secretAccessKey in PIXA_STORAGE_URL (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) and that they may use the bucket.',
    );
  }
  if (facts.status !== undefined && facts.status >= 500) {
    return fixed(`the ${place} is not available: ${driverSays(facts)}`, 'Wait for the service to recover.', true);
  }
  return fixed(`the ${place} could not be opened: ${driverSays(facts)}`, `Check PIXA_STORAGE_URL.`);
}

function explainListen(facts: Facts, target: Extract<StartupTarget, { kind: 'listen' }>): StartupExplanation {
  const { setting, hostSetting, host, port } = target;
  const where = `port ${port} on ${host} (${setting}=${port})`;
  if (has(facts, 'EADDRINUSE')) {
    return {
      problem: `${where} is already in use by another program`,
      fix: `Stop that program (ss -ltnp 'sport = :${port}' names it) or set ${setting} to a free port.`,
      transient: false,
    };
  }
  if (has(facts, 'EACCES', 'EPERM')) {
    return {
      problem: `not allowed to listen on ${where}: ports below 1024 need privileges`,
      fix: `Set ${setting} to 1024 or above (8080), or grant the process CAP_NET_BIND_SERVICE.`,
      transient: false,
    };
  }
  if (has(facts, 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN')) {
    return {
      problem: `${host} (${hostSetting}) is not an address of this machine`,
      fix: `Set ${hostSetting} to one of its addresses, or 0.0.0.0 for all of them.`,
      transient: false,
    };
  }
  return {
    problem: `cannot listen on ${where}: ${driverSays(facts)}`,
    fix: `Check ${setting} and ${hostSetting}.`,
    transient: false,
  };
}
