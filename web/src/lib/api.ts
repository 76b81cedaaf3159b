import type {
  Credentials,
  ErrorBody,
  Image as Photo,
  ImagePage as PhotoPage,
  Me,
  PasswordChange,
  SignIn as Session,
  UploadedImage as UploadedPhoto,
  UploadResult,
  Usage,
} from '../../../src/api/index.js';

const BASE = '/api/v1';

/** An error answer of the API (`{"error":{"code","message"}}`), or a failed connection (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds from a Retry-After header, when the server sent one. */
    readonly retryAfter: number | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

let token: string | null = null;
let onUnauthorized: (() => void) | null = null;

/** Sets the bearer token sent with every authenticated request. */
export function setToken(value: string | null): void {
  token = value;
}

/** Called when an authenticated request answers 401: the session has expired or was revoked. */
export function onSessionRejected(handler: () => void): void {
  onUnauthorized = handler;
}

const FALLBACK_MESSAGES: Record<number, string> = {
  0: 'Cannot reach Pixa. Check your connection and try again.',
  401: 'Your session has ended.',
  404: 'Not found.',
  413: 'The file is too large.',
  429: 'Too many requests. Please wait a moment.',
  500: 'Something went wrong on the server. Please try again.',
  502: 'Pixa is not reachable right now. Please try again.',
  503: 'Pixa is busy or restarting. Please try again in a moment.',
};

function parseRetryAfter(value: string | null): number | null {
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, Math.round((at - Date.now()) / 1000));
}

/** Turns a status and response text into an ApiError, whatever the body holds. */
export function toApiError(status: number, bodyText: string, retryAfter: string | null): ApiError {
  let code = `http_${status}`;
  // Status 0 is a failed fetch; any other answer without a JSON error came from the server or a proxy.
  const fallback = status >= 500 ? FALLBACK_MESSAGES[500] : status === 0 ? FALLBACK_MESSAGES[0] : undefined;
  let message = FALLBACK_MESSAGES[status] ?? fallback ?? `The request was refused (HTTP ${status}).`;
  try {
    // The contract's field names, but nothing trusted about the values: a proxy may have answered.
    const body = JSON.parse(bodyText) as { error?: Partial<Record<keyof ErrorBody['error'], unknown>> } | null;
    if (typeof body?.error?.code === 'string') code = body.error.code;
    if (typeof body?.error?.message === 'string' && body.error.message) message = body.error.message;
  } catch {
    // Not JSON (a proxy's error page, say): keep the generic sentence.
  }
  return new ApiError(status, code, message, parseRetryAfter(retryAfter));
}

interface RequestOptions {
  body?: unknown;
  /** false for sign-in and sign-up, which send no token. */
  auth?: boolean;
  /** Whether a 401 means the session has ended; not so where it means "wrong current password". */
  sessionCheck?: boolean;
}

async function request<T>(
  method: string,
  path: string,
  { body, auth = true, sessionCheck = auth }: RequestOptions = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (auth && token) headers.authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch {
    throw toApiError(0, '', null);
  }
  if (!response.ok) {
    const error = toApiError(
      response.status,
      await response.text().catch(() => ''),
      response.headers.get('retry-after'),
    );
    if (response.status === 401 && sessionCheck) onUnauthorized?.();
    throw error;
  }
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export const api = {
  register: (username: string, password: string) =>
    request<Session>('POST', '/auth/register', { body: { username, password } satisfies Credentials, auth: false }),
  login: (username: string, password: string) =>
    request<Session>('POST', '/auth/login', { body: { username, password } satisfies Credentials, auth: false }),
  logout: () => request<void>('POST', '/auth/logout'),
  me: () => request<Me>('GET', '/me'),
  changePassword: (currentPassword: string, newPassword: string) =>
    request<Session>('POST', '/auth/password', {
      body: { currentPassword, newPassword } satisfies PasswordChange,
      sessionCheck: false,
    }),
  listPhotos: (cursor: string | null, limit = 60) =>
    request<PhotoPage>(
      'GET',
      `/images?limit=${limit}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
    ),
  getPhoto: (id: string) => request<Photo>('GET', `/images/${encodeURIComponent(id)}`),
  deletePhoto: (id: string) => request<void>('DELETE', `/images/${encodeURIComponent(id)}`),
  usage: () => request<Usage>('GET', '/usage'),
};

/** A running upload of one file. */
export interface UploadHandle {
  promise: Promise<UploadedPhoto[]>;
  abort(): void;
}

/**
 * Uploads one file as multipart field `file`. XMLHttpRequest rather than fetch because only XHR
 * reports upload progress in every browser.
 */
export function uploadPhoto(file: File, onProgress: (loaded: number, total: number) => void): UploadHandle {
  const xhr = new XMLHttpRequest();
  const promise = new Promise<UploadedPhoto[]>((resolve, reject) => {
    xhr.open('POST', `${BASE}/images`);
    xhr.setRequestHeader('accept', 'application/json');
    if (token) xhr.setRequestHeader('authorization', `Bearer ${token}`);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve((JSON.parse(xhr.responseText) as UploadResult).images);
        } catch {
          reject(toApiError(500, '', null));
        }
        return;
      }
      if (xhr.status === 401) onUnauthorized?.();
      reject(toApiError(xhr.status, xhr.responseText, xhr.getResponseHeader('retry-after')));
    };
    xhr.onerror = () => reject(toApiError(0, '', null));
    xhr.onabort = () => reject(new ApiError(0, 'aborted', 'Cancelled.'));
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}
