import os from 'node:os';

/** How much decoding one process may do at once. */
export interface DecodeLimits {
  /** Decodes running at the same time. */
  concurrency: number;
  /** Estimated memory all running decodes may hold together, in bytes. */
  memoryBytes: number;
}

/**
 * The default decode budget: the storage container's limit (1536 Mi in deploy/k8s) less an idle
 * process (~200 MB) and room for the heap, sockets and staging buffers of uploads in flight. Two
 * 24 MP interlaced 16-bit PNGs (~261 MB each by the estimate) decode side by side within it; a
 * 100 MP one (~985 MB) still fits alone, and anything that needs more is refused.
 */
export const DEFAULT_DECODE_MEMORY_MB = 1024;

/**
 * Default number of decodes at once, from the core count. A running sharp pipeline holds one of
 * libuv's threads (4 unless UV_THREADPOOL_SIZE says otherwise) for its whole length, and so do
 * argon2 hashes and file reads and writes: two threads always stay free for sign-in and serving.
 */
export function defaultDecodeConcurrency(cores = os.availableParallelism(), uvThreads = 4): number {
  return Math.max(1, Math.min(cores, uvThreads - 2));
}

/** Gives back what `acquire` took; calling it twice gives back once. */
export type Release = () => void;

interface Waiter {
  bytes: number;
  start: () => void;
}

/**
 * A counting semaphore over two resources, decode slots and bytes of memory, shared by every
 * decode in the process. Waiters start strictly in arrival order: a large decode at the head is not
 * overtaken forever by a stream of small ones.
 */
export class DecodeGate {
  private running = 0;
  private usedBytes = 0;
  private readonly queue: Waiter[] = [];

  constructor(readonly limits: Readonly<DecodeLimits>) {
    if (!Number.isInteger(limits.concurrency) || limits.concurrency < 1) {
      throw new RangeError(`decode concurrency must be a whole number of at least 1, not ${limits.concurrency}`);
    }
    if (!(limits.memoryBytes > 0)) throw new RangeError(`decode memory must be positive, not ${limits.memoryBytes}`);
  }

  /** True when a decode of this estimate could run alone, with nothing else decoding. */
  fits(bytes: number): boolean {
    return bytes <= this.limits.memoryBytes;
  }

  /**
   * Waits for a slot and `bytes` of the budget. A decode that could never fit is the caller's to
   * refuse first (`fits`); here it is refused with a RangeError rather than waiting forever.
   */
  acquire(bytes: number): Promise<Release> {
    if (!this.fits(bytes)) {
      return Promise.reject(new RangeError(`a decode of ${bytes} bytes never fits in ${this.limits.memoryBytes}`));
    }
    return new Promise((resolve) => {
      this.queue.push({ bytes, start: () => resolve(this.releaser(bytes)) });
      this.drain();
    });
  }

  /** Decodes running, bytes they hold and decodes waiting, for logs and tests. */
  get state(): { running: number; usedBytes: number; waiting: number } {
    return { running: this.running, usedBytes: this.usedBytes, waiting: this.queue.length };
  }

  private releaser(bytes: number): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running -= 1;
      this.usedBytes -= bytes;
      this.drain();
    };
  }

  private drain(): void {
    for (let head = this.queue[0]; head; head = this.queue[0]) {
      if (this.running >= this.limits.concurrency || this.usedBytes + head.bytes > this.limits.memoryBytes) return;
      this.queue.shift();
      this.running += 1;
      this.usedBytes += head.bytes;
      head.start();
    }
  }
}
