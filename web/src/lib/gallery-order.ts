import type { Image as Photo } from '../../../src/api/index.js';

/** Newest taken first, then newest id first: the server's order. */
export function comparePhotos(a: Photo, b: Photo): number {
  const byTaken = Date.parse(b.takenAt) - Date.parse(a.takenAt);
  if (byTaken !== 0) return byTaken;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** Both lists as one, in gallery order; a photo in both is taken from `incoming` (it has fresher URLs). */
export function mergePhotos<T extends Photo>(current: T[], incoming: T[]): T[] {
  const byId = new Map(current.map((photo) => [photo.id, photo]));
  for (const photo of incoming) byId.set(photo.id, photo);
  return [...byId.values()].sort(comparePhotos);
}
