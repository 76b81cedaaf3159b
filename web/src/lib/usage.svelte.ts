import { api } from './api.js';
import type { Usage } from '../../../src/api/index.js';

/** The storage and transfer meters. Refreshes coalesce: many finished uploads cause at most two requests. */
class UsageState {
  current = $state<Usage | null>(null);
  #running: Promise<void> | null = null;
  #again = false;

  refresh(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#load().finally(() => {
      this.#running = null;
      if (this.#again) {
        this.#again = false;
        this.refresh();
      }
    });
  }

  clear(): void {
    this.current = null;
  }

  async #load(): Promise<void> {
    try {
      this.current = await api.usage();
    } catch {
      // The meters keep their last numbers; the next upload or delete tries again.
    }
  }
}

export const usage = new UsageState();
