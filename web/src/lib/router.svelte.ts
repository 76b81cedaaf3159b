/** The screens of the app, each with its own URL so that reload, back, forward and bookmarks work. */
export type Route =
  | { name: 'gallery' }
  | { name: 'favorites' }
  | { name: 'albums' }
  | { name: 'album'; id: string }
  | { name: 'trash' }
  | { name: 'shares' }
  | { name: 'shared'; key: string }
  | { name: 'missing' };

/** Parses a path (without query) into a route. */
export function parseRoute(pathname: string): Route {
  const parts = pathname
    .split('/')
    .filter(Boolean)
    .map((part) => {
      try {
        return decodeURIComponent(part);
      } catch {
        return '';
      }
    });
  const [first, second, ...rest] = parts;
  if (rest.length > 0) return { name: 'missing' };
  if (first === undefined) return { name: 'gallery' };
  if (second === undefined) {
    if (first === 'favorites') return { name: 'favorites' };
    if (first === 'albums') return { name: 'albums' };
    if (first === 'trash') return { name: 'trash' };
    if (first === 'shares') return { name: 'shares' };
    return { name: 'missing' };
  }
  if (first === 'albums' && second) return { name: 'album', id: second };
  if (first === 's' && second) return { name: 'shared', key: second };
  return { name: 'missing' };
}

/** The path of a route, for links. */
export function routePath(route: Route): string {
  switch (route.name) {
    case 'gallery':
    case 'missing':
      return '/';
    case 'album':
      return `/albums/${encodeURIComponent(route.id)}`;
    case 'shared':
      return `/s/${encodeURIComponent(route.key)}`;
    default:
      return `/${route.name}`;
  }
}

/** The current URL as the app reads it: the screen, and the photo open in the lightbox (`?photo=<id>`). */
class RouterState {
  route = $state<Route>(parseRoute(location.pathname));
  photo = $state<string | null>(new URLSearchParams(location.search).get('photo'));

  constructor() {
    window.addEventListener('popstate', () => this.#read());
  }

  #read(): void {
    this.route = parseRoute(location.pathname);
    this.photo = new URLSearchParams(location.search).get('photo');
  }

  /** Goes to another screen (a new history entry, unless `replace`). */
  go(path: string, { replace = false }: { replace?: boolean } = {}): void {
    const url = new URL(path, location.origin);
    if (url.pathname + url.search === location.pathname + location.search) return;
    history[replace ? 'replaceState' : 'pushState'](null, '', url.pathname + url.search);
    this.#read();
    if (!replace && !url.searchParams.has('photo')) window.scrollTo(0, 0);
  }

  /**
   * Opens a photo in the lightbox (a new history entry, so Back closes it), moves to another photo
   * (replacing the entry, so Back does not step through every photo seen), or closes it (null).
   */
  openPhoto(id: string | null): void {
    const url = new URL(location.href);
    const wasOpen = url.searchParams.has('photo');
    if (id === null && wasOpen && (history.state as { lightbox?: boolean } | null)?.lightbox) {
      // Opened from the grid: closing is going back, so Back after closing leaves the screen.
      this.photo = null;
      history.back();
      return;
    }
    if (id === null) url.searchParams.delete('photo');
    else url.searchParams.set('photo', id);
    const next = url.pathname + url.search;
    if (next === location.pathname + location.search) return;
    if (wasOpen || id === null) history.replaceState(history.state, '', next);
    else history.pushState({ lightbox: true }, '', next);
    this.photo = id;
  }

  /** For `<a href>` clicks: an ordinary left click stays in the app; a modified one (new tab) is left alone. */
  link = (event: MouseEvent): void => {
    const anchor = event.currentTarget as HTMLAnchorElement;
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    if (event.altKey || anchor.target || anchor.origin !== location.origin) return;
    event.preventDefault();
    this.go(anchor.pathname + anchor.search);
  };
}

export const router = new RouterState();
