import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import pino from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { createServiceClient, type ServiceClient } from '../../src/clients/http-client.js';
import { createMetrics } from '../../src/http/metrics.js';
import { AppError } from '../../src/lib/app-error.js';
import { freePort } from '../helpers/pod.js';

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

describe('service client', () => {
  let server: Server;
  let handler: Handler;
  let origin: string;
  const seen: IncomingMessage[] = [];
  const metrics = createMetrics();
  const clientFor = (url: string): ServiceClient =>
    createServiceClient({
      target: 'storage',
      label: 'Photo storage',
      origin: url,
      internalToken: 'the-token',
      metrics,
      logger: pino({ level: 'silent' }),
    });

  beforeAll(async () => {
    server = createServer((request, response) => {
      seen.push(request);
      handler(request, response);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  test('every call › carries the internal token, and the request id of the request it is made for', async () => {
    handler = (_request, response) =>
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    const client = clientFor(origin);
    const answer = await client.forRequest('req-123').json<{ ok: boolean }>({ method: 'GET', path: '/x' });
    expect(answer).toEqual({ ok: true });
    expect(seen.at(-1)!.headers['x-pixa-internal-token']).toBe('the-token');
    expect(seen.at(-1)!.headers['x-request-id']).toBe('req-123');
    await client.forRequest('req-456').call({ method: 'GET', path: '/y' });
    expect(seen.at(-1)!.headers['x-request-id']).toBe('req-456');
    await client.json({ method: 'GET', path: '/z' });
    expect(seen.at(-1)!.headers['x-pixa-internal-token']).toBe('the-token');
    expect(seen.at(-1)!.headers['x-request-id']).toBeUndefined();
    await client.close();
  });

  test('an error answer › becomes the same AppError, Retry-After kept', async () => {
    handler = (_request, response) =>
      response
        .writeHead(429, { 'content-type': 'application/json', 'retry-after': '120' })
        .end(JSON.stringify({ error: { code: 'transfer_quota_exceeded', message: 'Daily transfer quota reached.' } }));
    const client = clientFor(origin);
    const error = await client.json({ method: 'GET', path: '/x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({
      statusCode: 429,
      code: 'transfer_quota_exceeded',
      message: 'Daily transfer quota reached.',
      headers: { 'retry-after': '120' },
    });
    await client.close();
  });

  test('an answer not in the error format › is a 503 naming the service', async () => {
    handler = (_request, response) =>
      response.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad gateway</h1>');
    const client = clientFor(origin);
    const error = await client.json({ method: 'GET', path: '/x' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ statusCode: 503, code: 'service_unavailable' });
    expect((error as Error).message).toContain('Photo storage');
    await client.close();
  });

  test('nothing listening › a 503 naming the service; a read is tried again, a change is not', async () => {
    const client = clientFor(`http://127.0.0.1:${await freePort()}`);
    const before = await failures();
    const read = await client.json({ method: 'GET', path: '/x', retry: true }).catch((e: unknown) => e);
    expect(read).toMatchObject({ statusCode: 503, code: 'service_unavailable' });
    expect((read as AppError).headers['retry-after']).toBeDefined();
    const write = await client.json({ method: 'POST', path: '/x', json: {} }).catch((e: unknown) => e);
    expect(write).toMatchObject({ statusCode: 503, code: 'service_unavailable' });
    expect(await failures()).toBe(before + 2);
    await client.close();
  });

  test('a read whose connection fails once › succeeds on the retry', async () => {
    let calls = 0;
    handler = (request, response) => {
      calls++;
      if (calls === 1) return request.socket.destroy();
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"second":true}');
    };
    const client = clientFor(origin);
    expect(await client.json({ method: 'GET', path: '/x', retry: true })).toEqual({ second: true });
    expect(calls).toBe(2);
    await client.close();
  });

  test('a read whose answer breaks midway › fails at once, not sent again nor resumed with a Range', async () => {
    const ranges: (string | undefined)[] = [];
    handler = (request, response) => {
      ranges.push(request.headers.range);
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      response.write('{"partial":');
      setTimeout(() => request.socket.destroy(), 20);
    };
    const client = clientFor(origin);
    const error = await client.json({ method: 'GET', path: '/x', retry: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(ranges).toEqual([undefined]);
    await client.close();
  });

  test('a read that times out waiting for the answer › a 503, not sent again', async () => {
    let calls = 0;
    handler = () => {
      calls++;
    };
    const client = clientFor(origin);
    const before = await failures();
    const error = await client
      .json({ method: 'GET', path: '/x', retry: true, headersTimeoutMs: 100 })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ statusCode: 503, code: 'service_unavailable' });
    expect(calls).toBe(1);
    expect(await failures()).toBe(before + 1);
    await client.close();
  });

  async function failures(): Promise<number> {
    const metric = await metrics.internalCallFailures.get();
    return metric.values.reduce((sum, value) => sum + value.value, 0);
  }
});
