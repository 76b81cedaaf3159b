import { api, ApiError } from './api.js';
import type { Photo } from './types.js';

const PAGE_SIZE = 60;
/** A photo whose picture failed to load gets fresh signed URLs at most this often. */
const REFRESH_INTERVAL_MS = 60_000;

/** Newest taken first, then newest id first: the server's order. */
export function comparePhotos(a: Photo, b: Photo): number {
  const byTaken = Date.parse(b.takenAt) - Date.parse(a.takenAt);
  if (byTaken !== 0) return byTaken;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

function merge(current: Photo[], incoming: Photo[]): Photo[] {
  const byId = new Map(current.map((photo) => [photo.id, photo]));
  for (const photo of incoming) byId.set(photo.id, photo);
  return [...byId.values()].sort(comparePhotos);
}

/** The signed-in person's photos, loaded page by page as the gallery scrolls. */
class GalleryState {
  photos = $state.raw<Photo[]>([]);
  /** Whether the first page has arrived. */
  loaded = $state(false);
  nextCursor = $state<string | null>(null);
  loading = $state(false);
  error = $state('');
  #generation = 0;
  #refreshedAt = new Map<string, number>();

  get hasMore(): boolean {
    return !this.loaded || this.nextCursor !== null;
  }

  async loadMore(): Promise<void> {
    if (this.loading || !this.hasMore) return;
    const generation = this.#generation;
    this.loading = true;
    this.error = '';
    try {
      const page = await api.listPhotos(this.loaded ? this.nextCursor : null, PAGE_SIZE);
      if (generation !== this.#generation) return;
      this.photos = merge(this.photos, page.items);
      this.nextCursor = page.nextCursor;
      this.loaded = true;
    } catch (error) {
      if (generation !== this.#generation) return;
      this.error = error instanceof Error ? error.message : 'Could not load your photos.';
    } finally {
      if (generation === this.#generation) this.loading = false;
    }
  }

  /** Adds freshly uploaded photos, except those that belong to a page not loaded yet (they arrive with it). */
  add(photos: Photo[]): void {
    const last = this.photos.at(-1);
    const visible = photos.filter((photo) => this.nextCursor === null || !last || comparePhotos(photo, last) <= 0);
    if (visible.length > 0) this.photos = merge(this.photos, visible);
  }

  remove(id: string): void {
    this.photos = this.photos.filter((photo) => photo.id !== id);
  }

  /**
   * Fetches a photo again for fresh signed URLs (they expire after a while). A photo that is gone is
   * removed. Returns the fresh photo, or null when nothing changed.
   */
  async refresh(id: string): Promise<Photo | null> {
    const last = this.#refreshedAt.get(id);
    if (last !== undefined && Date.now() - last < REFRESH_INTERVAL_MS) return null;
    this.#refreshedAt.set(id, Date.now());
    const generation = this.#generation;
    try {
      const photo = await api.getPhoto(id);
      if (generation !== this.#generation) return null;
      this.photos = this.photos.map((existing) => (existing.id === id ? photo : existing));
      return photo;
    } catch (error) {
      if (error instanceof ApiError && error.status === 404 && generation === this.#generation) this.remove(id);
      return null;
    }
  }

  reset(): void {
    this.#generation++;
    this.#refreshedAt.clear();
    this.photos = [];
    this.loaded = false;
    this.nextCursor = null;
    this.loading = false;
    this.error = '';
  }
}

export const gallery = new GalleryState();
