import { hostname } from 'node:os';

import type { Kysely } from 'kysely';

import type { DB } from '../../db/tables.js';
import { newId } from '../../lib/ids.js';
import { finishJob, releaseJob, renewLease, takeJob, type JobRow } from './job.repository.js';

/** What a kind of job does. Jobs are retried, so `run` must be idempotent. */
export interface JobHandler {
  /** Does the work; `signal` aborts when the lease was lost (another worker has the job now). */
  run(payload: unknown, signal: AbortSignal): Promise<void>;
  /** Told once when the job is given up after its last attempt. */
  onDead?(payload: unknown, error: string): Promise<void>;
}

export interface JobWorkerOptions {
  db: Kysely<DB>;
  handlers: Record<string, JobHandler>;
  /** Jobs run at once by this worker (PIXA_JOB_CONCURRENCY). */
  concurrency: number;
  /** How long a taken job stays this worker's without a renewal. */
  leaseMs?: number;
  /** How often the queue is looked at when nothing woke the worker. */
  pollMs?: number;
  /** Attempts before a job is dead. */
  maxAttempts?: number;
  /** The wait before the n-th retry: `retryBaseMs × 4^(n-1)`. */
  retryBaseMs?: number;
  workerId?: string;
  now?: () => number;
  onError?: (error: unknown, job: JobRow | undefined) => void;
}

export interface JobWorker {
  readonly id: string;
  /** Looks at the queue now (a job was just queued in this process). */
  wake(): void;
  /** Stops taking jobs, stops the running ones and hands them back to the queue for any worker. */
  stop(): Promise<void>;
  /** Jobs running now. */
  running(): number;
}

export const JOB_DEFAULTS = { leaseMs: 60_000, pollMs: 2_000, maxAttempts: 4, retryBaseMs: 30_000 };

/**
 * Runs queued jobs of the known kinds, at most `concurrency` at once. A taken job is leased: the worker
 * renews the lease every third of it while the job runs; a worker that dies stops renewing, and once
 * the lease ends any worker (on any replica) takes the job again. A failure is retried after a growing
 * back-off; after `maxAttempts` takes the job is dead and its handler is told.
 */
export function startJobWorker(options: JobWorkerOptions): JobWorker {
  const { db, handlers, concurrency } = options;
  const leaseMs = options.leaseMs ?? JOB_DEFAULTS.leaseMs;
  const pollMs = options.pollMs ?? JOB_DEFAULTS.pollMs;
  const maxAttempts = options.maxAttempts ?? JOB_DEFAULTS.maxAttempts;
  const retryBaseMs = options.retryBaseMs ?? JOB_DEFAULTS.retryBaseMs;
  const now = options.now ?? Date.now;
  const id = options.workerId ?? `${hostname()}:${process.pid}:${newId().slice(-8)}`;
  const kinds = Object.keys(handlers);
  const active = new Set<Promise<void>>();
  /** Aborted at stop: running jobs end and go back to the queue for any worker. */
  const stopping = new AbortController();
  let stopped = false;
  let filling = false;
  let again = false;
  let timer: NodeJS.Timeout | undefined;

  const report = (error: unknown, job?: JobRow) => options.onError?.(error, job);

  /** Takes jobs while there is room and work; runs again if woken meanwhile. */
  async function fill(): Promise<void> {
    if (filling) {
      again = true;
      return;
    }
    filling = true;
    try {
      do {
        again = false;
        while (!stopped && active.size < concurrency) {
          const job = await takeJob(db, id, now(), leaseMs, kinds);
          if (!job) break;
          const run = execute(job).finally(() => {
            active.delete(run);
            if (!stopped) void fill();
          });
          active.add(run);
        }
      } while (again && !stopped);
    } catch (error) {
      report(error);
    } finally {
      filling = false;
    }
  }

  async function execute(job: JobRow): Promise<void> {
    const handler = handlers[job.kind]!;
    const payload = JSON.parse(job.payload) as unknown;
    if (job.attempts > maxAttempts) {
      // Taken again after a worker died on its last attempt: nothing is left to try.
      await giveUp(job, handler, payload, job.last_error ?? 'the worker running it stopped');
      return;
    }
    const lost = new AbortController();
    const onStop = () => lost.abort();
    stopping.signal.addEventListener('abort', onStop, { once: true });
    const renewal = setInterval(
      () => {
        renewLease(db, job.id, id, now() + leaseMs, now())
          .then((held) => {
            if (!held) lost.abort();
          })
          .catch((error: unknown) => report(error, job));
      },
      Math.max(10, Math.floor(leaseMs / 3)),
    );
    renewal.unref();
    try {
      await handler.run(payload, lost.signal);
      clearInterval(renewal);
      await finishJob(db, job.id, id, now(), { state: 'done' });
    } catch (error) {
      clearInterval(renewal);
      if (stopping.signal.aborted) {
        await releaseJob(db, job.id, id, now()).catch(report);
        return;
      }
      if (lost.signal.aborted) return;
      const message = error instanceof Error ? error.message : String(error);
      report(error, job);
      if (job.attempts >= maxAttempts) await giveUp(job, handler, payload, message);
      else {
        const retryAt = now() + retryBaseMs * 4 ** (job.attempts - 1);
        await finishJob(db, job.id, id, now(), { state: 'queued', retryAt, error: message }).catch(report);
      }
    } finally {
      stopping.signal.removeEventListener('abort', onStop);
    }
  }

  async function giveUp(job: JobRow, handler: JobHandler, payload: unknown, message: string) {
    try {
      if (await finishJob(db, job.id, id, now(), { state: 'dead', error: message })) {
        await handler.onDead?.(payload, message);
      }
    } catch (error) {
      report(error, job);
    }
  }

  const schedule = () => {
    timer = setTimeout(() => {
      void fill().finally(() => {
        if (!stopped) schedule();
      });
    }, pollMs);
    timer.unref();
  };
  if (concurrency > 0) {
    void fill();
    schedule();
  }

  return {
    id,
    wake() {
      if (!stopped && concurrency > 0) void fill();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      stopping.abort();
      await Promise.allSettled([...active]);
    },
    running: () => active.size,
  };
}
