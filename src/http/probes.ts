import type { FastifyInstance } from 'fastify';

/** One dependency a service needs to answer requests; resolves when it is reachable, else throws. */
export type ReadinessCheck = () => Promise<unknown>;

/** A dependency that has not answered within this long counts as down: the probe itself must be quick. */
const CHECK_TIMEOUT_MS = 3000;

/**
 * `GET /healthz` answers while the process runs (liveness: restart me if this fails).
 * `GET /readyz` answers 200 only when every dependency check passes, else 503 with what is down
 * (readiness: send me no traffic until this passes), e.g. `{"status":"not_ready","database":"ok",
 * "objectStore":"unavailable"}`.
 */
export function registerProbes(app: FastifyInstance, checks: Readonly<Record<string, ReadinessCheck>>): void {
  app.get('/healthz', { schema: { hide: true }, logLevel: 'warn' }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true }, logLevel: 'warn' }, async (request, reply) => {
    const names = Object.keys(checks);
    const results = await Promise.allSettled(names.map((name) => withTimeout(checks[name]!())));
    const body: Record<string, string> = {};
    results.forEach((result, index) => {
      body[names[index]!] = result.status === 'fulfilled' ? 'ok' : 'unavailable';
      if (result.status === 'rejected') request.log.warn({ err: result.reason, check: names[index] }, 'not ready');
    });
    const ready = results.every((result) => result.status === 'fulfilled');
    return reply
      .status(ready ? 200 : 503)
      .header('cache-control', 'no-store')
      .send({ status: ready ? 'ready' : 'not_ready', ...body });
  });
}

async function withTimeout(check: Promise<unknown>): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  try {
    return await Promise.race([check, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
