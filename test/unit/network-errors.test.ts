import { createServer, type AddressInfo } from 'node:net';

import { describe, expect, it } from 'vitest';

import { isDatabaseUnavailable } from '../../src/db/errors.js';
import { isNetworkError, networkErrorKind } from '../../src/lib/network-errors.js';

const withCode = (code: string): Error => Object.assign(new Error(code), { code });

describe('network errors', () => {
  it('a refused connection to a real closed port › is a connection error', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));

    const error = await fetch(`http://127.0.0.1:${port}/`).catch((e: unknown) => e);

    // fetch wraps the socket's ECONNREFUSED as the cause of a TypeError.
    expect(networkErrorKind(error)).toBe('connection');
  });

  it.each(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'])(
    '%s › is a connection error',
    (code) => expect(networkErrorKind(withCode(code))).toBe('connection'),
  );

  it.each(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])(
    '%s › is a timeout',
    (code) => expect(networkErrorKind(withCode(code))).toBe('timeout'),
  );

  it('an AggregateError of per-address failures › takes the kind of its errors, a timeout first', () => {
    const refused = new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')], 'connect failed');
    const mixed = new AggregateError([withCode('ECONNREFUSED'), withCode('ETIMEDOUT')], 'connect failed');
    expect(networkErrorKind(refused)).toBe('connection');
    expect(networkErrorKind(mixed)).toBe('timeout');
  });

  it('anything else › is not a network error, even with a cause that points to itself', () => {
    const circular = new Error('loop') as Error & { cause?: unknown };
    circular.cause = circular;
    for (const error of [withCode('ENOENT'), withCode('ER_PARSE_ERROR'), new Error('plain'), 'ECONNREFUSED', null]) {
      expect(isNetworkError(error)).toBe(false);
    }
    expect(isNetworkError(circular)).toBe(false);
  });

  it('the database classification › counts network errors and its own driver codes, not a bad query', () => {
    expect(isDatabaseUnavailable(new Error('wrapped', { cause: withCode('EHOSTDOWN') }))).toBe(true);
    expect(isDatabaseUnavailable(withCode('PROTOCOL_CONNECTION_LOST'))).toBe(true);
    expect(isDatabaseUnavailable(withCode('57P01'))).toBe(true);
    expect(isDatabaseUnavailable(withCode('ER_PARSE_ERROR'))).toBe(false);
  });
});
