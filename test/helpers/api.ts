import { randomBytes } from 'node:crypto';

import type { User as UserDto } from '../../src/api/auth.js';
import type { Image as ImageDto } from '../../src/api/images.js';
import type { StorageUsage, TransferUsage } from '../../src/modules/usage/usage.service.js';

export interface UploadFile {
  name: string;
  data: Buffer | Uint8Array;
  type?: string;
}

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

/** Error bodies as every endpoint answers them. */
export interface ErrorBody {
  error: { code: string; message: string };
}

/** A thin client over the public HTTP API, so tests read like what a user does. */
export function apiClient(baseUrl: string) {
  async function request<T>(
    method: string,
    path: string,
    options: { token?: string; json?: unknown; form?: FormData; headers?: Record<string, string> } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | FormData | undefined;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.form) {
      body = options.form;
    }
    const response = await fetch(new URL(path, baseUrl), { method, headers, body });
    const type = response.headers.get('content-type') ?? '';
    const parsed = type.includes('application/json')
      ? await response.json()
      : Buffer.from(await response.arrayBuffer());
    return { status: response.status, headers: response.headers, body: parsed as T };
  }

  return {
    request,
    register: (username: string, password: string) =>
      request<{ token: string; expiresAt: string; user: UserBody } & ErrorBody>('POST', '/api/v1/auth/register', {
        json: { username, password },
      }),
    login: (username: string, password: string) =>
      request<{ token: string; expiresAt: string; user: UserBody } & ErrorBody>('POST', '/api/v1/auth/login', {
        json: { username, password },
      }),
    upload: (token: string, files: UploadFile[]) => {
      const form = new FormData();
      for (const file of files)
        form.append('file', new Blob([file.data], { type: file.type ?? 'application/octet-stream' }), file.name);
      return request<{ images: ImageBody[] } & ErrorBody>('POST', '/api/v1/images', { token, form });
    },
    list: (token: string, query = '') =>
      request<{ items: ImageBody[]; nextCursor: string | null } & ErrorBody>('GET', `/api/v1/images${query}`, {
        token,
      }),
    getImage: (token: string, id: string) => request<ImageBody & ErrorBody>('GET', `/api/v1/images/${id}`, { token }),
    /** Moves the image to the trash (its bytes and storage stay until it is purged). */
    deleteImage: (token: string, id: string) => request<ErrorBody>('DELETE', `/api/v1/images/${id}`, { token }),
    /** Deletes the image for good: to the trash, then out of it. Answers the last step's response. */
    deleteForGood: async (token: string, id: string) => {
      const trashed = await request<ErrorBody>('DELETE', `/api/v1/images/${id}`, { token });
      if (trashed.status !== 204) return trashed;
      return request<ErrorBody>('DELETE', `/api/v1/trash/${id}`, { token });
    },
    usage: (token: string) => request<UsageBody>('GET', '/api/v1/usage', { token }),
    me: (token: string) => request<UserBody & ErrorBody>('GET', '/api/v1/me', { token }),
    logout: (token: string) => request<ErrorBody>('POST', '/api/v1/auth/logout', { token }),
    changePassword: (token: string, currentPassword: string, newPassword: string) =>
      request<{ token: string } & ErrorBody>('POST', '/api/v1/auth/password', {
        token,
        json: { currentPassword, newPassword },
      }),
    /** Fetches a URL exactly as an <img src> would: no Authorization header. */
    fetchMedia: (url: string, headers: Record<string, string> = {}) =>
      request<Buffer & ErrorBody>('GET', url, { headers }),
  };
}

/** The wire shapes, as the server defines them. */
export type UserBody = UserDto;
export type ImageBody = ImageDto & { duplicate?: boolean };
export type UsageBody = { storage: StorageUsage; transfer: TransferUsage };

/** A fresh, valid username and password for one test. */
export function newCredentials(prefix = 'user'): { username: string; password: string } {
  return {
    username: `${prefix}_${randomBytes(4).toString('hex')}`,
    password: `pw-${randomBytes(9).toString('base64url')}`,
  };
}

/** Registers a fresh account and returns its token. */
export async function signedUpUser(client: ReturnType<typeof apiClient>, prefix?: string) {
  const credentials = newCredentials(prefix);
  const response = await client.register(credentials.username, credentials.password);
  if (response.status !== 201) throw new Error(`register failed: ${response.status} ${JSON.stringify(response.body)}`);
  return { ...credentials, token: response.body.token, userId: response.body.user.id };
}
