import { defaultOptions as tusDefaults, DetailedError, Upload } from 'tus-js-client';
import type {
  Album,
  AlbumChanges,
  AlbumList,
  Credentials,
  ErrorBody,
  Image,
  ImagePage,
  TrashedImage as TrashedPhoto,
  TrashPage,
  Me,
  PasswordChange,
  SignIn as Session,
  UploadedImage as UploadedPhoto,
  UploadResult,
  Usage,
} from '../../../src/api/index.js';
import type {
  CreatedShare,
  CreateShare,
  Share,
  SharedItem,
  SharedPage,
  ShareList,
  ShareToken,
  UpdateShare,
} from '../../../src/api/shares.js';

/** A photo as the API shows it, with whether it is a favourite and which albums hold it. */
export type Photo = Image;
export type PhotoPage = ImagePage;
export type { Album, AlbumChanges, TrashedPhoto, TrashPage };

/** What the photo viewer shows: one of the owner's photos, or a photo seen through a share link (fewer details). */
export interface Viewable {
  id: string;
  filename?: string;
  takenAt?: string;
  width: number;
  height: number;
  mediaType: string;
  size?: number;
  favorite?: boolean;
  urls: { thumbnail: string; preview: string; download?: string };
}

export type { CreatedShare, Share, SharedItem, SharedPage, ShareToken };
/** What the share dialog sends; the server fills in the defaults. */
export type NewShare = CreateShare;
/** What the edit dialog sends: only the fields that change (`null` clears an expiry or a password). */
export type ShareChanges = UpdateShare;
/** The header that carries the token of an unlocked password-protected link (SHARE_TOKEN_HEADER of the API). */
const SHARE_TOKEN_HEADER = 'x-pixa-share-token';

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
  headers?: Record<string, string>;
}

async function request<T>(
  method: string,
  path: string,
  { body, auth = true, sessionCheck = auth, headers: extra }: RequestOptions = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...extra };
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
  listPhotos: (cursor: string | null, limit = 60) => request<PhotoPage>('GET', `/images${page(cursor, limit)}`),
  listFavorites: (cursor: string | null, limit = 60) =>
    request<PhotoPage>('GET', `/images${page(cursor, limit)}&favorite=true`),
  getPhoto: (id: string) => request<Photo>('GET', `/images/${id_(id)}`),
  /** Moves a photo to the trash. */
  deletePhoto: (id: string) => request<void>('DELETE', `/images/${id_(id)}`),
  setFavorite: (id: string, favorite: boolean) =>
    request<void>(favorite ? 'PUT' : 'DELETE', `/images/${id_(id)}/favorite`),
  usage: () => request<Usage>('GET', '/usage'),

  listAlbums: () => request<AlbumList>('GET', '/albums'),
  getAlbum: (id: string) => request<Album>('GET', `/albums/${id_(id)}`),
  createAlbum: (title: string, description?: string) =>
    request<Album>('POST', '/albums', { body: description ? { title, description } : { title } }),
  updateAlbum: (id: string, changes: AlbumChanges) => request<Album>('PATCH', `/albums/${id_(id)}`, { body: changes }),
  deleteAlbum: (id: string) => request<void>('DELETE', `/albums/${id_(id)}`),
  albumPhotos: (id: string, cursor: string | null, limit = 60) =>
    request<PhotoPage>('GET', `/albums/${id_(id)}/images${page(cursor, limit)}`),
  addToAlbum: (id: string, ids: string[]) => request<unknown>('PUT', `/albums/${id_(id)}/images`, { body: { ids } }),
  removeFromAlbum: (id: string, ids: string[]) =>
    request<unknown>('DELETE', `/albums/${id_(id)}/images`, { body: { ids } }),

  listTrash: (cursor: string | null, limit = 60) => request<TrashPage>('GET', `/trash${page(cursor, limit)}`),
  restore: (ids: string[]) => request<unknown>('POST', '/trash/restore', { body: { ids } }),
  emptyTrash: () => request<unknown>('POST', '/trash/empty'),
  deleteForGood: (id: string) => request<void>('DELETE', `/trash/${id_(id)}`),

  createShare: (share: NewShare) => request<CreatedShare>('POST', '/shares', { body: share }),
  listShares: () => request<ShareList>('GET', '/shares'),
  updateShare: (id: string, changes: ShareChanges) => request<Share>('PATCH', `/shares/${id_(id)}`, { body: changes }),
  revokeShare: (id: string) => request<void>('DELETE', `/shares/${id_(id)}`),

  /** What a visitor of `/s/<key>` sees; no account, only the unlock token of a protected link. */
  shared: (key: string, cursor: string | null, token: string | null, limit = 60) =>
    request<SharedPage>('GET', `/shared/${id_(key)}${page(cursor, limit)}`, {
      auth: false,
      headers: token ? { [SHARE_TOKEN_HEADER]: token } : {},
    }),
  unlockShared: (key: string, password: string) =>
    request<ShareToken>('POST', `/shared/${id_(key)}/unlock`, { body: { password }, auth: false }),
};

function id_(id: string): string {
  return encodeURIComponent(id);
}

function page(cursor: string | null, limit: number): string {
  return `?limit=${limit}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
}

/** The worker that streams ZIP downloads to disk (web/public/download-worker.js), once registered. */
let downloadWorker: Promise<ServiceWorker> | null = null;

function activeWorker(): Promise<ServiceWorker> {
  downloadWorker ??= navigator.serviceWorker
    .register('/download-worker.js', { scope: '/download/' })
    .then(
      (registration) =>
        new Promise<ServiceWorker>((resolve, reject) => {
          const worker = registration.active ?? registration.waiting ?? registration.installing;
          if (!worker) return reject(new Error('The download worker did not start.'));
          if (worker.state === 'activated') return resolve(worker);
          worker.addEventListener('statechange', () => {
            if (worker.state === 'activated') resolve(worker);
            else if (worker.state === 'redundant') reject(new Error('The download worker did not start.'));
          });
        }),
    )
    .catch((error: unknown) => {
      downloadWorker = null;
      throw error;
    });
  return downloadWorker;
}

/**
 * Downloads a ZIP of the originals of `ids` (POST /api/v1/images/archive). The download worker makes the
 * request with the session's token and hands the streamed answer to a hidden frame, so the browser saves
 * it to disk as it arrives; the page never holds the archive. Resolves once the download has started;
 * rejects with the API's error (the day's transfer used up, say).
 */
export async function downloadArchive(ids: string[]): Promise<void> {
  if (!('serviceWorker' in navigator)) return downloadArchiveInMemory(ids);
  const worker = await activeWorker();
  const channel = new MessageChannel();
  const answers: { id?: string; status?: number; body?: string }[] = [];
  let wake: (() => void) | null = null;
  channel.port1.onmessage = (event: MessageEvent<{ id?: string; status?: number; body?: string }>) => {
    answers.push(event.data);
    wake?.();
  };
  const next = async () => {
    while (answers.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    return answers.shift() as { id?: string; status?: number; body?: string };
  };
  worker.postMessage({ type: 'archive', token, ids }, [channel.port2]);
  const { id } = await next();
  downloadFrame().src = `/download/archive/${encodeURIComponent(id ?? '')}`;
  const { status = 0, body = '' } = await next();
  channel.port1.close();
  if (status < 200 || status >= 300) {
    if (status === 401) onUnauthorized?.();
    throw toApiError(status, body, null);
  }
}

function downloadFrame(): HTMLIFrameElement {
  let frame = document.querySelector<HTMLIFrameElement>('iframe[name="pixa-download"]');
  if (!frame) {
    frame = document.createElement('iframe');
    frame.name = 'pixa-download';
    frame.title = 'Downloads';
    frame.hidden = true;
    document.body.append(frame);
  }
  return frame;
}

/**
 * Where service workers are not available (a page served over plain HTTP from another machine), the ZIP
 * is fetched into memory and saved from there: it works, for archives that fit in memory.
 */
async function downloadArchiveInMemory(ids: string[]): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(`${BASE}/images/archive`, { method: 'POST', headers, body: JSON.stringify({ ids }) });
  } catch {
    throw toApiError(0, '', null);
  }
  if (!response.ok) {
    if (response.status === 401) onUnauthorized?.();
    throw toApiError(response.status, await response.text().catch(() => ''), response.headers.get('retry-after'));
  }
  const name = /filename="?([^";]+)"?/.exec(response.headers.get('content-disposition') ?? '')?.[1] ?? 'pixa.zip';
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

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

/** Files from this size on, and every video, go through the resumable (tus) endpoint. */
export const RESUMABLE_FROM_BYTES = 8 * 1024 * 1024;
/** Bytes per PATCH: a dropped connection costs at most this much again. */
const CHUNK_BYTES = 8 * 1024 * 1024;
/** Waits before each new attempt after a failed request; the last one repeats while the network is down. */
const RETRY_DELAYS_MS = [0, 1000, 3000, 5000, 10000, 20000, 30000, 30000, 30000, 60000, 60000, 60000];

/** Whether a file goes through the resumable endpoint rather than a multipart request. */
export function isResumable(file: File): boolean {
  return file.size >= RESUMABLE_FROM_BYTES || file.type.startsWith('video/');
}

function tusError(error: Error): ApiError {
  if (error instanceof DetailedError && error.originalResponse) {
    const response = error.originalResponse;
    const status = response.getStatus();
    if (status === 401) onUnauthorized?.();
    return toApiError(status, response.getBody(), response.getHeader('retry-after') ?? null);
  }
  return toApiError(0, '', null);
}

/**
 * Sends one file through the tus endpoint in chunks. It resumes by itself after the network drops, and
 * where an earlier page of this browser left the same file unfinished, it continues from there.
 */
export function uploadResumable(file: File, onProgress: (loaded: number, total: number) => void): UploadHandle {
  let upload: Upload | null = null;
  let aborted = false;
  const promise = new Promise<UploadedPhoto[]>((resolve, reject) => {
    upload = new Upload(file, {
      endpoint: new URL(`${BASE}/uploads`, location.origin).href,
      headers: token ? { authorization: `Bearer ${token}` } : {},
      metadata: { filename: file.name },
      chunkSize: CHUNK_BYTES,
      retryDelays: RETRY_DELAYS_MS,
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      onProgress,
      onError: (error) => reject(tusError(error)),
      onSuccess: () => {
        const url = upload?.url;
        if (!url) return reject(toApiError(500, '', null));
        // The result route answers the image, or the refusal a multipart upload would have had.
        const path = new URL(url, location.origin).pathname.slice(BASE.length);
        uploadResult(path).then((photo) => resolve([photo]), reject);
      },
    });
    const started = upload;
    started
      .findPreviousUploads()
      .then((previous) => {
        if (aborted) return;
        const latest = previous.sort((a, b) => b.creationTime.localeCompare(a.creationTime))[0];
        if (latest) started.resumeFromPreviousUpload(latest);
        started.start();
      })
      .catch(() => started.start());
  });
  return {
    promise,
    abort: () => {
      aborted = true;
      // Cancelling ends the upload on the server too, giving back the quota it holds.
      void upload?.abort(true).catch(() => {});
    },
  };
}

/** Pauses between asking for the result of an upload the server is still turning into a photo. */
const RESULT_POLL_MS = 1000;
const RESULT_POLLS = 120;

/** The photo a finished upload became; while the server still processes it (409), asks again shortly. */
async function uploadResult(path: string): Promise<UploadedPhoto> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request<UploadedPhoto>('GET', `${path}/result`);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 409) || attempt >= RESULT_POLLS) throw error;
      await new Promise((resolve) => setTimeout(resolve, RESULT_POLL_MS));
    }
  }
}

/** An upload this browser started and did not finish, e.g. before the page was reloaded. */
export interface UnfinishedUpload {
  key: string;
  filename: string;
  size: number;
  url: string | null;
}

/** The unfinished resumable uploads this browser remembers. */
export async function unfinishedUploads(): Promise<UnfinishedUpload[]> {
  try {
    const stored = await tusDefaults.urlStorage.findAllUploads();
    return stored.map((upload) => ({
      key: upload.urlStorageKey,
      filename: upload.metadata.filename ?? 'Unnamed file',
      size: upload.size ?? 0,
      url: upload.uploadUrl,
    }));
  } catch {
    return [];
  }
}

/** Forgets an unfinished upload and ends it on the server, which gives back the quota it holds. */
export async function discardUnfinished(upload: UnfinishedUpload): Promise<void> {
  await tusDefaults.urlStorage.removeUpload(upload.key);
  if (upload.url) {
    await Upload.terminate(upload.url, { headers: token ? { authorization: `Bearer ${token}` } : {} }).catch(() => {});
  }
}
