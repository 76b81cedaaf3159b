import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';

import { expect } from 'vitest';

import { apiClient } from './api.js';

/** The header every tus request carries. */
export const TUS = { 'tus-resumable': '1.0.0' };

/** An `Upload-Metadata` value: each key with its value in base64. */
export const tusMetadata = (pairs: Record<string, string>): string =>
  Object.entries(pairs)
    .map(([key, value]) => `${key} ${Buffer.from(value).toString('base64')}`)
    .join(',');

/** A tus `Upload-Checksum` value for `bytes`. */
export const tusChecksum = (bytes: Buffer): string => `sha256 ${createHash('sha256').update(bytes).digest('base64')}`;

/** A small tus client over fetch, so each case reads as the requests it sends. */
export function tus(base: string, token: string) {
  const auth = { ...TUS, authorization: `Bearer ${token}` };
  return {
    create: (length: number, meta: Record<string, string> = { filename: 'photo.jpg' }, body?: Buffer) =>
      fetch(new URL('/api/v1/uploads', base), {
        method: 'POST',
        headers: {
          ...auth,
          'upload-length': String(length),
          'upload-metadata': tusMetadata(meta),
          ...(body ? { 'content-type': 'application/offset+octet-stream' } : {}),
        },
        body,
      }),
    head: (location: string) => fetch(new URL(location, base), { method: 'HEAD', headers: auth }),
    patch: (location: string, offset: number, bytes: Buffer, headers: Record<string, string> = {}) =>
      fetch(new URL(location, base), {
        method: 'PATCH',
        headers: {
          ...auth,
          'upload-offset': String(offset),
          'content-type': 'application/offset+octet-stream',
          ...headers,
        },
        body: bytes,
      }),
    /**
     * A PATCH that announces all of `bytes` from offset 0, sends the first `sent`, then cuts the
     * connection, as a phone losing its network does. Resolves once the socket is gone.
     */
    patchCut: (location: string, bytes: Buffer, sent: number) =>
      new Promise<void>((resolve) => {
        const req = httpRequest(new URL(location, base), {
          method: 'PATCH',
          headers: {
            ...auth,
            'upload-offset': '0',
            'content-type': 'application/offset+octet-stream',
            'content-length': String(bytes.length),
          },
        });
        req.on('error', () => resolve());
        req.on('close', () => resolve());
        req.write(bytes.subarray(0, sent), () => setTimeout(() => req.destroy(), 200));
      }),
    remove: (location: string) => fetch(new URL(location, base), { method: 'DELETE', headers: auth }),
    result: (location: string) => fetch(new URL(`${location}/result`, base), { headers: auth }),
  };
}

export type TusClient = ReturnType<typeof tus>;

/** Sends `bytes` from `offset` in chunks of `chunk`, checking each answer; answers the last PATCH. */
export async function sendAll(client: TusClient, location: string, bytes: Buffer, offset = 0, chunk = 64 * 1024) {
  let last: Response | undefined;
  for (let at = offset; at < bytes.length; at += chunk) {
    last = await client.patch(location, at, bytes.subarray(at, at + chunk));
    expect(last.status).toBe(204);
    expect(Number(last.headers.get('upload-offset'))).toBe(Math.min(at + chunk, bytes.length));
  }
  return last!;
}

/**
 * The offset HEAD reports once a cut PATCH's bytes are recorded: the server finishes with a cut
 * request a moment after the client has gone, so this asks until the offset moves (or 5 s pass).
 */
export async function offsetAfterCut(client: TusClient, location: string): Promise<number> {
  let offset = 0;
  for (let tries = 0; tries < 100 && offset === 0; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    offset = Number((await client.head(location)).headers.get('upload-offset'));
  }
  return offset;
}

/** Bytes of the account's storage and today's transfer held for uploads in progress. */
export async function reservedBytes(base: string, token: string) {
  const usage = (await apiClient(base).usage(token)).body;
  return { storage: usage.storage.reservedBytes, transfer: usage.transfer.reservedBytes };
}
