import { api } from './api.js';
import type { Album } from './api.js';

/** The signed-in person's albums, newest activity first, as the albums page and "Add to album" show them. */
class AlbumsState {
  items = $state.raw<Album[]>([]);
  loaded = $state(false);
  error = $state('');
  #generation = 0;

  async refresh(): Promise<void> {
    const generation = this.#generation;
    try {
      const { items } = await api.listAlbums();
      if (generation !== this.#generation) return;
      this.items = items;
      this.loaded = true;
      this.error = '';
    } catch (error) {
      if (generation === this.#generation)
        this.error = error instanceof Error ? error.message : 'Could not load albums.';
    }
  }

  /** Puts a created or changed album in the list (first: it has the newest activity). */
  put(album: Album): void {
    this.items = [album, ...this.items.filter((candidate) => candidate.id !== album.id)];
  }

  remove(id: string): void {
    this.items = this.items.filter((album) => album.id !== id);
  }

  reset(): void {
    this.#generation++;
    this.items = [];
    this.loaded = false;
    this.error = '';
  }
}

export const albums = new AlbumsState();

/** The most ids one request may name; longer selections go in several requests. */
export const IDS_PER_REQUEST = 500;

/** Runs `action` on `ids` in requests of at most {@link IDS_PER_REQUEST}. */
export async function inBatches(ids: readonly string[], action: (batch: string[]) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < ids.length; start += IDS_PER_REQUEST) {
    await action(ids.slice(start, start + IDS_PER_REQUEST));
  }
}

/** Runs `action` for each id, a few at a time. */
export async function eachId(ids: readonly string[], action: (id: string) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < ids.length) await action(ids[next++] as string);
  };
  await Promise.all(Array.from({ length: Math.min(4, ids.length) }, worker));
}
