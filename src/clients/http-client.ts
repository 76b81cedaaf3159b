import type { Readable } from 'node:stream';

import type { Logger } from 'pino';
import { interceptors, Pool, type Dispatcher, type RetryHandler } from 'undici';

import type { Metrics } from '../http/metrics.js';
import { INTERNAL_TOKEN_HEADER } from '../http/internal-auth.js';
import { AppError, unavailable } from '../lib/app-error.js';
import { networkErrorKind } from '../lib/network-errors.js';

export interface ServiceClientOptions {
  /** The service called, for metrics and logs, e.g. `storage`. */
  target: string;
  /** How a person would name it in an error message, e.g. `Photo storage`. */
  label: string;
  /** e.g. `http://127.0.0.1:5001` */
  origin: string;
  internalToken: string;
  metrics: Metrics;
  logger: Logger;
  /** Longest wait for an answer's headers (a long upload passes its own). */
  timeoutMs?: number;
}

export interface CallOptions {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | undefined>;
  json?: unknown;
  body?: Readable;
  headers?: Record<string, string>;
  /**
   * A pure read that may be sent again when the connection failed before any answer. Calls that
   * change something (and media downloads, which are charged to the transfer quota) never are.
   */
  retry?: boolean;
  headersTimeoutMs?: number;
  signal?: AbortSignal;
  /** The error the request body's own source failed with, if it did: that is the call's error then. */
  bodyFailure?: () => unknown;
  /** The `x-request-id` of the request this call is made for, so the service's log lines join the caller's. */
  requestId?: string;
}

/** Calls to one internal service, with Pixa's error format on both sides. */
export interface ServiceCaller {
  /** The answer with its body unread (a stream); a 4xx/5xx answer is thrown as the same AppError. */
  call(options: CallOptions): Promise<Dispatcher.ResponseData>;
  /** The parsed JSON answer, or undefined for 204. */
  json<T>(options: CallOptions): Promise<T>;
}

/** One connection pool to one internal service. */
export interface ServiceClient extends ServiceCaller {
  /** The same calls, each carrying this request id. */
  forRequest(requestId: string | undefined): ServiceCaller;
  close(): Promise<void>;
}

type RetryRequestOptions = Dispatcher.RequestOptions & { retryOptions: RetryHandler.RetryOptions };

/** Times a read is sent again; the first retry waits RETRY_DELAY_MS, the next twice that. */
const RETRIES = 2;
const RETRY_DELAY_MS = 50;
const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * An HTTP client for one internal service. Connections are kept alive (shorter than the server's
 * keep-alive, so the client never reuses a socket the server is closing). Every call carries the
 * internal token, and the request id of the request it is made for (`forRequest`): passed along
 * explicitly, because an AsyncLocalStorage context turns on a promise hook for the whole process on
 * Node 20, which costs every request. An error answer `{"error": {code, message}}` becomes the same
 * AppError here (Retry-After kept), so the gateway answers exactly what the service said; a service
 * that cannot be reached becomes a 503 naming it.
 */
export function createServiceClient(options: ServiceClientOptions): ServiceClient {
  const { target, label, metrics, logger } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const pool = new Pool(options.origin, {
    connections: 64,
    keepAliveTimeout: 10_000,
    keepAliveMaxTimeout: 30_000,
    connect: { timeout: 2_000 },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  // Reads marked `retry` go through undici's retry interceptor (its decision: retryBeforeAnswer);
  // every other call through the pool as is. An error answer is an answer: passed on, never retried.
  const retrying = pool.compose(interceptors.retry({ statusCodes: [] }));

  function headersOf(call: Pick<CallOptions, 'headers' | 'requestId'>): Record<string, string> {
    const headers: Record<string, string> = { [INTERNAL_TOKEN_HEADER]: options.internalToken, ...call.headers };
    if (call.requestId) headers['x-request-id'] = call.requestId;
    return headers;
  }

  async function send(call: CallOptions): Promise<Dispatcher.ResponseData> {
    const headers = headersOf(call);
    let body: string | Readable | undefined = call.body;
    if (call.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(call.json);
    }
    const query = call.query && Object.fromEntries(Object.entries(call.query).filter(([, v]) => v !== undefined));
    const request: Dispatcher.RequestOptions = {
      method: call.method,
      path: call.path,
      query,
      headers,
      body,
      signal: call.signal,
      headersTimeout: call.headersTimeoutMs ?? timeoutMs,
    };
    if (!call.retry) return pool.request(request);
    // The retry interceptor reads per-request options beside the request's own. `answered` turns true
    // when request() resolves, on the answer's headers; a body that breaks later does so in a later event.
    let answered = false;
    const withRetry: RetryRequestOptions = { ...request, retryOptions: { retry: retryBeforeAnswer(() => answered) } };
    const response = await retrying.request(withRetry);
    answered = true;
    return response;
  }

  /** The 503 a call that got no answer becomes, counted and logged. */
  function unreachable(
    error: unknown,
    request: Pick<CallOptions, 'path' | 'signal' | 'bodyFailure' | 'requestId'>,
  ): unknown {
    const own = request.bodyFailure?.();
    if (own) return own;
    if (request.signal?.aborted) return error;
    const reason = networkErrorKind(error) === 'timeout' ? 'timeout' : 'connection';
    metrics.internalCallFailures.inc({ target, reason });
    logger.warn({ err: error, target, reqId: request.requestId, path: request.path }, 'internal call failed');
    return unavailable(label);
  }

  async function call(request: CallOptions): Promise<Dispatcher.ResponseData> {
    let response: Dispatcher.ResponseData;
    try {
      response = await send(request);
    } catch (error) {
      throw unreachable(error, request);
    }
    if (response.statusCode < 400) return response;
    if (response.statusCode >= 500) metrics.internalCallFailures.inc({ target, reason: 'server_error' });
    throw await errorOf(response, label);
  }

  async function json<T>(request: CallOptions): Promise<T> {
    const response = await call(request);
    if (response.statusCode === 204) {
      await response.body.dump();
      return undefined as T;
    }
    return (await response.body.json()) as T;
  }

  return {
    call,
    json,
    forRequest: (requestId) =>
      requestId === undefined
        ? { call, json }
        : { call: (request) => call({ ...request, requestId }), json: (request) => json({ ...request, requestId }) },
    close: () => pool.close(),
  };
}

/**
 * The retry interceptor's decision for a read: send it again only when the connection failed before
 * any answer (refused, reset, closed), never after a timeout, at most RETRIES times, waiting
 * RETRY_DELAY_MS and then twice as long. Once the answer's headers arrived (`answered`), a body that
 * breaks midway fails the call as it is: undici would otherwise resume it with a Range request.
 */
function retryBeforeAnswer(answered: () => boolean): RetryHandler.RetryCallback {
  return (error, { state }, callback) => {
    if (answered() || state.counter > RETRIES || networkErrorKind(error) !== 'connection') return callback(error);
    setTimeout(() => callback(null), RETRY_DELAY_MS * 2 ** (state.counter - 1));
  };
}

/** The AppError an error answer stands for; anything not in Pixa's error format counts as the service being down. */
async function errorOf(response: Dispatcher.ResponseData, label: string): Promise<AppError> {
  let body: Buffer;
  try {
    body = Buffer.from(await response.body.arrayBuffer());
  } catch {
    body = Buffer.alloc(0);
  }
  return errorFrom(body, response.statusCode, response.headers, label);
}

function errorFrom(
  body: Buffer,
  statusCode: number,
  responseHeaders: Record<string, string | string[] | undefined>,
  label: string,
): AppError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const error = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  if (typeof error?.code !== 'string' || typeof error.message !== 'string') return unavailable(label);
  const headers: Record<string, string> = {};
  const retryAfter = responseHeaders['retry-after'];
  if (typeof retryAfter === 'string') headers['retry-after'] = retryAfter;
  const contentRange = responseHeaders['content-range'];
  if (typeof contentRange === 'string') headers['content-range'] = contentRange;
  return new AppError(error.code, statusCode, error.message, headers);
}
