import { api, ApiError } from './api.js';
import { comparePhotos, mergePhotos } from './gallery-order.js';
import type { Photo, PhotoPage } from './api.js';
import { idSet } from './ids.js';

const PAGE_SIZE = 60;
/** A photo whose picture failed to load gets fresh signed URLs at most this often. */
const REFRESH_INTERVAL_MS = 60_000;
/** When many signed URLs expire at once (a tab left open for hours), they are renewed a few at a time. */
const PARALLEL_REFRESHES = 4;

/** Loads one page of a list of photos. */
export type PageLoader = (cursor: string | null, limit: number) => Promise<PhotoPage>;

/**
 * A list of the signed-in person's photos (the gallery, the favourites, one album), loaded page by page
 * as the grid scrolls.
 */
class PhotoList {
  photos = $state.raw<Photo[]>([]);
  /** Whether the first page has arrived. */
  loaded = $state(false);
  nextCursor = $state<string | null>(null);
  loading = $state(false);
  error = $state('');
  #generation = 0;
  /** When each photo last got fresh URLs (plain bookkeeping, nothing on screen depends on it). */
  #refreshedAt: Partial<Record<string, number>> = {};
  #refreshing = 0;
  #waiting: (() => void)[] = [];
  readonly #load: PageLoader;

  constructor(load: PageLoader) {
    this.#load = load;
  }

  get hasMore(): boolean {
    return !this.loaded || this.nextCursor !== null;
  }

  async loadMore(): Promise<void> {
    if (this.loading || !this.hasMore) return;
    const generation = this.#generation;
    this.loading = true;
    this.error = '';
    try {
      const page = await this.#load(this.loaded ? this.nextCursor : null, PAGE_SIZE);
      if (generation !== this.#generation) return;
      this.photos = mergePhotos(this.photos, page.items);
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
    if (visible.length > 0) this.photos = mergePhotos(this.photos, visible);
  }

  remove(id: string): void {
    this.removeMany([id]);
  }

  removeMany(ids: Iterable<string>): void {
    const gone = idSet(ids);
    this.photos = this.photos.filter((photo) => !gone.has(photo.id));
  }

  /** Changes loaded photos in place (a favourite marked, an album added). */
  change(ids: Iterable<string>, update: (photo: Photo) => Photo): void {
    const chosen = idSet(ids);
    this.photos = this.photos.map((photo) => (chosen.has(photo.id) ? update(photo) : photo));
  }

  /**
   * Fetches a photo again for fresh signed URLs (they expire after a while). A photo that is gone is
   * removed. Returns the fresh photo, or null when nothing changed.
   */
  async refresh(id: string): Promise<Photo | null> {
    const last = this.#refreshedAt[id];
    if (last !== undefined && Date.now() - last < REFRESH_INTERVAL_MS) return null;
    this.#refreshedAt[id] = Date.now();
    const generation = this.#generation;
    if (this.#refreshing >= PARALLEL_REFRESHES) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#refreshing++;
    try {
      if (generation !== this.#generation) return null;
      const photo = await api.getPhoto(id);
      if (generation !== this.#generation) return null;
      this.photos = this.photos.map((existing) => (existing.id === id ? photo : existing));
      return photo;
    } catch (error) {
      if (error instanceof ApiError && error.status === 404 && generation === this.#generation) this.remove(id);
      return null;
    } finally {
      this.#refreshing--;
      this.#waiting.shift()?.();
    }
  }

  /** Picks up photos added elsewhere (another tab or device) since the first page was loaded. */
  async checkForNew(): Promise<void> {
    if (!this.loaded || this.loading) return;
    const generation = this.#generation;
    try {
      const page = await this.#load(null, PAGE_SIZE);
      if (generation === this.#generation) this.add(page.items);
    } catch {
      // Nothing new to show; the next look will try again.
    }
  }

  reset(): void {
    this.#generation++;
    this.#refreshedAt = {};
    this.photos = [];
    this.loaded = false;
    this.nextCursor = null;
    this.loading = false;
    this.error = '';
  }
}

export type { PhotoList };

/** A list of photos that `load` fetches a page at a time. */
export function photoList(load: PageLoader): PhotoList {
  return new PhotoList(load);
}

/** The signed-in person's photos, newest first. */
export const gallery = photoList((cursor, limit) => api.listPhotos(cursor, limit));
