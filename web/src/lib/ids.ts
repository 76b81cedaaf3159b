/*
 * Sets of photo ids that are never changed once made: a reactive field holding one is replaced by a new
 * set (so Svelte sees the change), and lookups use a throwaway one.
 */

/** The ids as a set, for lookups. */
export function idSet(ids: Iterable<string>): ReadonlySet<string> {
  return new Set(ids);
}

/** A copy of `set` with `ids` added (or removed when `on` is false). */
export function withIds(set: ReadonlySet<string>, ids: Iterable<string>, on: boolean): ReadonlySet<string> {
  const next = new Set(set);
  for (const id of ids) {
    if (on) next.add(id);
    else next.delete(id);
  }
  return next;
}
