import { describe, expect, test } from 'vitest';

import { retrying } from '../../src/cli/startup.js';
import { redactText, redactUrl } from '../../src/lib/redact.js';
import { explainStartupError, guessTarget, StartupError } from '../../src/lib/startup-errors.js';

/** An error shaped as the drivers throw them: a message plus their own fields. */
const driverError = (message: string, fields: Record<string, unknown>) => Object.assign(new Error(message), fields);

const PG = { kind: 'database', url: 'postgres://pixa:pw-1@db.internal:5432/pixa' } as const;
const MYSQL = { kind: 'database', url: 'mysql://pixa:pw-2@db.internal:3306/pixa' } as const;

describe('redaction', () => {
  test('user-info passwords and secret query parameters are hidden, the rest is kept', () => {
    expect(redactUrl('mysql://pixa:p@ss/w0rd@db:3306/pixa?ssl=true')).toBe('mysql://pixa:***@db:3306/pixa?ssl=true');
    expect(redactUrl('s3://b/p?region=eu&accessKeyId=AK&secretAccessKey=SK&sessionToken=T')).toBe(
      's3://b/p?region=eu&accessKeyId=***&secretAccessKey=***&sessionToken=***',
    );
    expect(redactUrl('postgres://postgres@127.0.0.1:5432/pixa')).toBe('postgres://postgres@127.0.0.1:5432/pixa');
  });

  test('free text › every URL in it and connection-string keys are redacted (a secret runs to the next space)', () => {
    expect(
      redactText('failed (got s4://b?secretAccessKey=SK) with AccountKey=abc==;EndpointSuffix=core.windows.net'),
    ).toBe('failed (got s4://b?secretAccessKey=*** with AccountKey=***;EndpointSuffix=core.windows.net');
  });
});

describe('start-up explanations for errors the local servers cannot produce', () => {
  test('PostgreSQL that requires TLS › add sslmode', () => {
    const error = driverError('no pg_hba.conf entry for host "10.0.0.5", user "pixa", database "pixa", no encryption', {
      code: '28000',
      severity: 'FATAL',
    });
    const explained = explainStartupError(error, PG);
    expect(explained.problem).toMatch(/requires an encrypted \(TLS\) connection .*pixa:\*\*\*@db\.internal/);
    expect(explained.fix).toMatch(/sslmode=require/);
    expect(explained.transient).toBe(false);
  });

  test('MySQL that requires TLS › add ssl=true', () => {
    const error = driverError('Connections using insecure transport are prohibited', {
      code: 'ER_SECURE_TRANSPORT_REQUIRED',
      errno: 3159,
    });
    expect(explainStartupError(error, MYSQL).fix).toMatch(/\?ssl=true/);
  });

  test('a certificate that is not trusted › named by its code', () => {
    const error = driverError('self-signed certificate in certificate chain', { code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    expect(explainStartupError(error, PG).problem).toMatch(
      /TLS certificate .* not accepted \(SELF_SIGNED_CERT_IN_CHAIN\)/,
    );
  });

  test('a server still starting (57P03) › transient, so pod mode waits for it', () => {
    const error = driverError('the database system is starting up', { code: '57P03', severity: 'FATAL' });
    expect(explainStartupError(error, PG).transient).toBe(true);
  });

  test('S3 keys refused, Azure keys refused › the setting that holds them', () => {
    const s3 = driverError('The AWS Access Key Id you provided does not exist', {
      name: 'InvalidAccessKeyId',
      $metadata: { httpStatusCode: 403 },
    });
    const azure = driverError('Server failed to authenticate the request', {
      name: 'RestError',
      code: 'AuthenticationFailed',
      statusCode: 403,
    });
    expect(explainStartupError(s3, { kind: 'store', url: 's3://photos?secretAccessKey=x' }).fix).toMatch(
      /secretAccessKey in PIXA_STORAGE_URL/,
    );
    expect(explainStartupError(azure, { kind: 'store', url: 'azure://photos/p' }).fix).toMatch(
      /PIXA_AZURE_CONNECTION_STRING/,
    );
  });

  test('a privileged port › says why and how', () => {
    const error = driverError('listen EACCES: permission denied 0.0.0.0:80', { code: 'EACCES', syscall: 'listen' });
    const target = {
      kind: 'listen',
      setting: 'PIXA_PORT',
      hostSetting: 'PIXA_HOST',
      host: '0.0.0.0',
      port: 80,
    } as const;
    expect(explainStartupError(error, target).fix).toMatch(/CAP_NET_BIND_SERVICE/);
  });
});

describe('an error from an unknown step', () => {
  test('is put down to the database or the store by its shape, and to neither when it has none', () => {
    const urls = ['postgres://db/pixa', 's3://photos'] as const;
    const sqlstate = driverError('relation "users" does not exist', { code: '42P01', severity: 'ERROR' });
    const s3 = driverError('', { name: 'NoSuchBucket', $metadata: { httpStatusCode: 404 } });
    expect(guessTarget(sqlstate, ...urls)?.kind).toBe('database');
    expect(guessTarget(driverError('x', { code: 'ER_NO_SUCH_TABLE' }), ...urls)?.kind).toBe('database');
    expect(guessTarget(s3, ...urls)?.kind).toBe('store');
    expect(guessTarget(driverError('write EPIPE', { code: 'EPIPE' }), ...urls)).toBeUndefined();
    expect(guessTarget(new TypeError('a bug'), ...urls)).toBeUndefined();
  });
});

describe('waiting for a dependency', () => {
  const refused = () => driverError('connect ECONNREFUSED 127.0.0.1:5432', { code: 'ECONNREFUSED' });
  const options = { firstDelayMs: 1, maxDelayMs: 2 };

  test('not up yet › retried with back-off until it answers', async () => {
    let attempts = 0;
    const delays: number[] = [];
    await retrying(PG, { ...options, waitMs: 60_000, onRetry: (_e, delay) => delays.push(delay) }, async () => {
      if (++attempts < 4) throw refused();
    });
    expect(attempts).toBe(4);
    expect(delays).toEqual([1, 2, 2]);
  });

  test('a mistake (missing database) › not retried', async () => {
    let attempts = 0;
    const missing = driverError('database "pixa" does not exist', { code: '3D000', severity: 'FATAL' });
    const failing = retrying(PG, { ...options, waitMs: 60_000 }, async () => {
      attempts++;
      throw missing;
    });
    await expect(failing).rejects.toThrow(StartupError);
    expect(attempts).toBe(1);
  });

  test('no waiting allowed (embedded mode) › the first failure is reported', async () => {
    let attempts = 0;
    const failing = retrying(PG, { ...options, waitMs: 0 }, async () => {
      attempts++;
      throw refused();
    });
    await expect(failing).rejects.toThrow(/refused the connection/);
    expect(attempts).toBe(1);
  });
});
