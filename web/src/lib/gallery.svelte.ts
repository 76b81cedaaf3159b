import { api, ApiError } from './api.js';
import { comparePhotos, mergePhotos } from './gallery-order.js';
import type { Image as Photo } from '../../../src/api/index.js';

const PAGE_SIZE = 60;
/** A photo whose picture failed to load gets fresh signed URLs at most this often. */
const REFRESH_INTERVAL_MS = 60_000;
/** When many signed URLs expire at once (a tab left open for hours), they are renewed a few at a time. */
const PARALLEL_REFRESHES = 4;

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
  #refreshing = 0;
  #waiting: (() => void)[] = [];

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
      const page = await api.listPhotos(null, PAGE_SIZE);
      if (generation === this.#generation) this.add(page.items);
    } catch {
      // Nothing new to show; the next look will try again.
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
