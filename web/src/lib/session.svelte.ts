import { api, onSessionRejected, setToken } from './api.js';
import type { SignIn as Session, User } from '../../../src/api/index.js';

const STORAGE_KEY = 'pixa.session';
/** setTimeout's limit; longer sessions are re-armed when the timer fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function readStored(): Session | null {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    if (!raw) return null;
    const value = JSON.parse(raw) as Partial<Session>;
    if (typeof value.token !== 'string' || typeof value.expiresAt !== 'string' || !value.user) return null;
    return value as Session;
  } catch {
    return null;
  }
}

function isExpired(session: Session): boolean {
  const at = Date.parse(session.expiresAt);
  return Number.isNaN(at) || at <= Date.now();
}

/** Who is signed in. The token lives in localStorage so that a reload keeps the person signed in. */
class SessionState {
  current = $state<Session | null>(null);
  /** A short sentence for the sign-in page, e.g. why the person was signed out. */
  notice = $state('');
  /** Whether this server takes videos (it has ffmpeg); told by GET /me. */
  videos = $state(true);
  #timer: ReturnType<typeof setTimeout> | undefined;
  #endListeners: (() => void)[] = [];

  constructor() {
    onSessionRejected(() => this.end('Your session has ended. Please sign in again.'));
    const stored = readStored();
    if (stored && isExpired(stored)) {
      localStorage.removeItem(STORAGE_KEY);
      this.notice = 'Your session has expired. Please sign in again.';
    } else if (stored) {
      this.#apply(stored);
    }
    // Signing in or out in another tab does the same here.
    window.addEventListener('storage', (event) => {
      if (event.key !== STORAGE_KEY) return;
      const next = readStored();
      if (next && !isExpired(next)) this.#apply(next);
      else if (this.current) this.end('You signed out in another tab.', false);
    });
  }

  get user(): User | null {
    return this.current?.user ?? null;
  }

  /** Runs when a session ends, to drop everything that belonged to it. */
  onEnd(listener: () => void): void {
    this.#endListeners.push(listener);
  }

  start(session: Session): void {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(session));
    this.notice = '';
    this.#apply(session);
  }

  /** Asks the server who we are, which also tells us whether a stored token still works. */
  async verify(): Promise<void> {
    if (!this.current) return;
    try {
      const { videos, ...user } = await api.me();
      this.videos = videos;
      if (this.current) this.current = { ...this.current, user };
    } catch {
      // A 401 already ended the session; other failures keep it (the server may be restarting).
    }
  }

  async signOut(): Promise<void> {
    try {
      await api.logout();
    } catch {
      // Signing out locally is what matters; an expired or unreachable session ends anyway.
    }
    this.end('You have signed out.');
  }

  end(notice: string, clearStorage = true): void {
    if (!this.current) return;
    if (clearStorage) localStorage.removeItem(STORAGE_KEY);
    clearTimeout(this.#timer);
    setToken(null);
    this.current = null;
    this.notice = notice;
    for (const listener of this.#endListeners) listener();
  }

  #apply(session: Session): void {
    setToken(session.token);
    this.current = session;
    this.#arm();
  }

  #arm(): void {
    clearTimeout(this.#timer);
    if (!this.current) return;
    const left = Date.parse(this.current.expiresAt) - Date.now();
    this.#timer = setTimeout(
      () => {
        if (this.current && isExpired(this.current)) this.end('Your session has expired. Please sign in again.');
        else this.#arm();
      },
      Math.min(Math.max(left, 0), MAX_TIMER_MS),
    );
  }
}

export const session = new SessionState();
