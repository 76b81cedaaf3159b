/**
 * The error codes that Node (net, dns) and undici give when a peer could not be reached or a
 * connection broke, and which of them mean only that time ran out. Every backend client (database
 * drivers, S3, Azure, the internal HTTP client) classifies its errors with this one list, adding only
 * the codes of its own driver.
 */

/** No connection could be made, or it broke: the peer gave no (complete) answer. */
const CONNECTION_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  // undici: the socket closed under the request, or the client was closed.
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

/** Waiting for the peer took longer than allowed. */
const TIMEOUT_CODES: ReadonlySet<string> = new Set([
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

export type NetworkErrorKind = 'connection' | 'timeout';

interface ErrorLike {
  code?: unknown;
  errors?: unknown;
  cause?: unknown;
}

/**
 * 'connection' or 'timeout' when the error, one of an AggregateError's errors (Node reports a refused
 * connection to every address of a name such as `localhost` that way) or its cause is a network
 * failure; undefined otherwise. A timeout anywhere wins: a caller must not retry a slow peer at once.
 */
export function networkErrorKind(error: unknown): NetworkErrorKind | undefined {
  return kindOf(error, 0);
}

/** True when the error means the peer was unreachable, the connection broke or the wait timed out. */
export function isNetworkError(error: unknown): boolean {
  return networkErrorKind(error) !== undefined;
}

/** Bounds the walk through causes, which a careless wrapper could make circular. */
const MAX_DEPTH = 8;

function kindOf(error: unknown, depth: number): NetworkErrorKind | undefined {
  if (error === null || typeof error !== 'object' || depth > MAX_DEPTH) return undefined;
  const { code, errors, cause } = error as ErrorLike;
  if (typeof code === 'string') {
    if (TIMEOUT_CODES.has(code)) return 'timeout';
    if (CONNECTION_CODES.has(code)) return 'connection';
  }
  const kinds = [...(Array.isArray(errors) ? errors : []), cause].map((inner) =>
    inner === error ? undefined : kindOf(inner, depth + 1),
  );
  if (kinds.includes('timeout')) return 'timeout';
  return kinds.includes('connection') ? 'connection' : undefined;
}
