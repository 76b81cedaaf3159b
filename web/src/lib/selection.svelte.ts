import { monthKey } from './format.js';
import { idSet, withIds } from './ids.js';

/** Photos chosen in a grid's multi-select mode, with the last one clicked as the anchor of shift-click ranges. */
export class Selection {
  ids = $state.raw<ReadonlySet<string>>(idSet([]));
  /** Whether the grid is in multi-select mode (a click selects instead of opening the photo). */
  active = $state(false);
  #anchor: string | null = null;

  get count(): number {
    return this.ids.size;
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  /**
   * A click on the photo at `index`: toggles it, or with shift selects every photo between the last
   * one clicked and this one.
   */
  click(photos: readonly { id: string }[], index: number, shift: boolean): void {
    const photo = photos[index];
    if (!photo) return;
    this.active = true;
    const anchor = this.#anchor === null ? -1 : photos.findIndex((candidate) => candidate.id === this.#anchor);
    if (shift && anchor >= 0) {
      const [from, to] = anchor < index ? [anchor, index] : [index, anchor];
      this.set(
        photos.slice(from, to + 1).map((candidate) => candidate.id),
        true,
      );
    } else {
      this.set([photo.id], !this.ids.has(photo.id));
    }
    this.#anchor = photo.id;
  }

  /** Selects (or unselects, when all are selected already) every loaded photo taken in one month. */
  toggleMonth(photos: readonly { id: string; takenAt: string }[], month: string): void {
    const ids = photos.filter((photo) => monthKey(photo.takenAt) === month).map((photo) => photo.id);
    this.active = true;
    this.set(ids, !ids.every((id) => this.ids.has(id)));
  }

  set(ids: Iterable<string>, selected: boolean): void {
    this.ids = withIds(this.ids, ids, selected);
  }

  /** Keeps only the photos still in the list (after some went to the trash, say). */
  keepOnly(photos: readonly { id: string }[]): void {
    const present = idSet(photos.map((photo) => photo.id));
    if ([...this.ids].some((id) => !present.has(id))) this.ids = idSet([...this.ids].filter((id) => present.has(id)));
  }

  clear(): void {
    this.ids = idSet([]);
    this.active = false;
    this.#anchor = null;
  }
}
