import type { Album } from '../../../src/api/albums.js';
import type { TrashedImage } from '../../../src/api/trash.js';
import type { ErrorBody, ImageBody } from '../../helpers/api.js';
import { makePhoto } from '../../helpers/photos.js';
import type { ApiServer } from './server.js';

let seed = 7000;

/** Uploads one small photo per date (EXIF `YYYY:MM:DD HH:MM:SS`), one request each, and returns them in that order. */
export async function uploadPhotos(server: ApiServer, token: string, dates: string[]): Promise<ImageBody[]> {
  const out: ImageBody[] = [];
  for (const takenAt of dates) {
    const data = await makePhoto({ width: 120, height: 90, seed: seed++, takenAt });
    const res = await server.client.upload(token, [{ name: `${takenAt.slice(0, 10)}.jpg`, data }]);
    if (res.status !== 201) throw new Error(`upload failed: ${res.status} ${JSON.stringify(res.body)}`);
    out.push(res.body.images[0]!);
  }
  return out;
}

/** `count` photos taken a day apart in 2024, uploaded in one request. */
export async function uploadMany(server: ApiServer, token: string, count: number): Promise<ImageBody[]> {
  const files = [];
  for (let i = 0; i < count; i++) {
    const day = String(1 + (i % 28)).padStart(2, '0');
    const month = String(1 + Math.floor(i / 28)).padStart(2, '0');
    files.push({
      name: `p${i}.jpg`,
      data: await makePhoto({ width: 64, height: 48, seed: seed++, takenAt: `2024:${month}:${day} 12:00:00` }),
    });
  }
  const res = await server.client.upload(token, files);
  if (res.status !== 201) throw new Error(`upload failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.images;
}

/** The album, trash and favourite routes, as a client calls them. */
export function library(server: ApiServer) {
  const { request } = server.client;
  return {
    createAlbum: (token: string, body: unknown) =>
      request<Album & ErrorBody>('POST', '/api/v1/albums', { token, json: body }),
    listAlbums: (token: string) => request<{ items: Album[] } & ErrorBody>('GET', '/api/v1/albums', { token }),
    getAlbum: (token: string, id: string) => request<Album & ErrorBody>('GET', `/api/v1/albums/${id}`, { token }),
    updateAlbum: (token: string, id: string, body: unknown) =>
      request<Album & ErrorBody>('PATCH', `/api/v1/albums/${id}`, { token, json: body }),
    deleteAlbum: (token: string, id: string) => request<ErrorBody>('DELETE', `/api/v1/albums/${id}`, { token }),
    albumImages: (token: string, id: string, query = '') =>
      request<{ items: ImageBody[]; nextCursor: string | null } & ErrorBody>(
        'GET',
        `/api/v1/albums/${id}/images${query}`,
        { token },
      ),
    addToAlbum: (token: string, id: string, ids: string[]) =>
      request<Album & ErrorBody>('PUT', `/api/v1/albums/${id}/images`, { token, json: { ids } }),
    removeFromAlbum: (token: string, id: string, ids: string[]) =>
      request<Album & ErrorBody>('DELETE', `/api/v1/albums/${id}/images`, { token, json: { ids } }),
    favorite: (token: string, id: string) => request<ErrorBody>('PUT', `/api/v1/images/${id}/favorite`, { token }),
    unfavorite: (token: string, id: string) => request<ErrorBody>('DELETE', `/api/v1/images/${id}/favorite`, { token }),
    trash: (token: string, query = '') =>
      request<{ items: TrashedImage[]; nextCursor: string | null } & ErrorBody>('GET', `/api/v1/trash${query}`, {
        token,
      }),
    restore: (token: string, ids: string[]) =>
      request<{ restored: number } & ErrorBody>('POST', '/api/v1/trash/restore', { token, json: { ids } }),
    emptyTrash: (token: string) => request<{ deleted: number } & ErrorBody>('POST', '/api/v1/trash/empty', { token }),
    deleteForGood: (token: string, id: string) => request<ErrorBody>('DELETE', `/api/v1/trash/${id}`, { token }),
  };
}
