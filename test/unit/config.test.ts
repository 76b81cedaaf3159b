import { readFile } from 'node:fs/promises';

import { describe, expect, test } from 'vitest';

import { ConfigError, loadConfig } from '../../src/config/config.js';
import { envMarkdownTable, envVarDocs } from '../../src/config/env-schema.js';

const POD_SECRETS = { PIXA_AUTH_SECRET_KEY: 'k'.repeat(40), PIXA_INTERNAL_TOKEN: 't'.repeat(40) };

describe('config › services and mode', () => {
  test('no settings › embedded, every service, the gateway on 8080', () => {
    const config = loadConfig({});
    expect(config.mode).toBe('embedded');
    expect(config.services).toEqual(['gateway', 'auth', 'storage', 'storage-monitor', 'usage-monitor']);
    expect(config.ports).toEqual({
      gateway: 8080,
      auth: 5000,
      storage: 5001,
      'storage-monitor': 8000,
      'usage-monitor': 8001,
    });
    expect(config.internalHost).toBe('127.0.0.1');
  });

  test('pod mode › the gateway defaults to port 80 and every port can be moved', () => {
    const config = loadConfig({
      ...POD_SECRETS,
      PIXA_MODE: 'pod',
      PIXA_AUTH_PORT: '15000',
      PIXA_STORAGE_PORT: '15001',
      PIXA_STORAGE_MONITOR_PORT: '18000',
      PIXA_USAGE_MONITOR_PORT: '18001',
    });
    expect(config.ports).toEqual({
      gateway: 80,
      auth: 15000,
      storage: 15001,
      'storage-monitor': 18000,
      'usage-monitor': 18001,
    });
  });

  test('pod mode without its secrets › names both missing variables', () => {
    expect(() => loadConfig({ PIXA_MODE: 'pod' })).toThrow(ConfigError);
    try {
      loadConfig({ PIXA_MODE: 'pod' });
    } catch (error) {
      const message = (error as ConfigError).message;
      expect(message).toContain('PIXA_AUTH_SECRET_KEY is required in pod mode');
      expect(message).toContain('PIXA_INTERNAL_TOKEN is required in pod mode');
    }
  });

  test('PIXA_SERVICES › a list is kept in order without repeats; an unknown name is refused', () => {
    expect(loadConfig({ PIXA_SERVICES: 'storage, auth,storage' }).services).toEqual(['storage', 'auth']);
    expect(() => loadConfig({ PIXA_SERVICES: 'gateway,thumbnailer' })).toThrow(/PIXA_SERVICES=gateway,thumbnailer/);
  });

  test('overrides › win over the environment (serve --services)', () => {
    const config = loadConfig({ PIXA_SERVICES: 'gateway' }, { PIXA_SERVICES: 'usage-monitor' });
    expect(config.services).toEqual(['usage-monitor']);
  });
});

describe('config › logs', () => {
  test('no settings › stdout only, files rotated at 10 MB when one is set', () => {
    const config = loadConfig({});
    expect(config.logFile).toBeUndefined();
    expect(config.logMaxBytes).toBe(10 * 1024 * 1024);
  });

  test('PIXA_LOG_FILE and PIXA_LOG_MAX_MB › are read', () => {
    const config = loadConfig({ PIXA_LOG_FILE: '/mnt/{service}.log', PIXA_LOG_MAX_MB: '2.5' });
    expect(config.logFile).toBe('/mnt/{service}.log');
    expect(config.logMaxBytes).toBe(Math.round(2.5 * 1024 * 1024));
  });

  test('PIXA_LOG_MAX_MB that is not a size › is refused', () => {
    expect(() => loadConfig({ PIXA_LOG_MAX_MB: 'lots' })).toThrow(/PIXA_LOG_MAX_MB=lots/);
  });
});

describe('config › numbers', () => {
  test('a count or a port must be whole; sizes and times may be fractions', () => {
    expect(() => loadConfig({ PIXA_AUTH_PORT: '5000.5' })).toThrow(/PIXA_AUTH_PORT=5000.5 must be a whole number/);
    expect(() => loadConfig({ PIXA_DB_POOL_SIZE: '2.5' })).toThrow(/PIXA_DB_POOL_SIZE=2.5 must be a whole number/);
    const config = loadConfig({ PIXA_STORAGE_QUOTA_MB: '0.5', PIXA_SWEEP_INTERVAL_MINUTES: '0.25' });
    expect(config.storageQuotaBytes).toBe(512 * 1024);
    expect(config.sweepIntervalSeconds).toBe(15);
  });
});

describe('config › the original Pixa’s MySQL variables', () => {
  test('set but empty, the user and database fall back to their defaults', () => {
    const config = loadConfig({ PIX_DB_HOST: 'db', PIX_DB_USER: '', PIX_DB_DATABASE: ' ', PIX_DB_PASSWORD: 's3cret' });
    expect(config.databaseUrl).toBe('mysql://root:s3cret@db:3306/pixa');
  });
});

/** The message loadConfig throws for `env`. */
function problemsOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error('loadConfig accepted the configuration');
}

describe('config › secrets stay out of messages', () => {
  test('a storage URL with a bad scheme › is named without its S3 secret', () => {
    const message = problemsOf({
      PIXA_STORAGE_URL: 's4://photos/prod?region=eu-west-1&accessKeyId=AKIAEXAMPLE&secretAccessKey=wJalrXUtnFEMI',
    });
    expect(message).toContain('PIXA_STORAGE_URL must start with file://, s3:// or azure://');
    expect(message).toContain('s4://photos/prod?region=eu-west-1&accessKeyId=***&secretAccessKey=***');
    expect(message).not.toMatch(/wJalrXUtnFEMI|AKIAEXAMPLE/);
  });

  test('a database URL with a bad scheme › is named without its password', () => {
    const message = problemsOf({ PIXA_DATABASE_URL: 'mssql://pixa:hunter2@db:1433/pixa' });
    expect(message).toContain('PIXA_DATABASE_URL must start with sqlite://, mysql:// or postgres://');
    expect(message).toContain('mssql://pixa:***@db:1433/pixa');
    expect(message).not.toContain('hunter2');
  });

  test('a signing key that is too short › is refused without being echoed', () => {
    const message = problemsOf({ PIXA_AUTH_SECRET_KEY: 'short-but-secret' });
    expect(message).toContain('PIXA_AUTH_SECRET_KEY must be at least 32 characters');
    expect(message).not.toContain('short-but-secret');
  });
});

describe('config › one schema', () => {
  test('every bad value is reported at once, each in its own words', () => {
    const message = problemsOf({
      PIXA_MODE: 'cluster',
      PIXA_AUTO_MIGRATE: 'maybe',
      PIXA_TOKEN_TTL_HOURS: '0',
      PIXA_MAX_FILES_PER_UPLOAD: 'many',
    });
    expect(message).toContain('PIXA_MODE=cluster must be one of embedded, pod');
    expect(message).toContain('PIXA_AUTO_MIGRATE=maybe must be true or false');
    expect(message).toContain('PIXA_TOKEN_TTL_HOURS=0 must be a number from 0.01 to 8760');
    expect(message).toContain('PIXA_MAX_FILES_PER_UPLOAD=many must be a whole number from 1 to 1000');
  });

  test('every variable has a description', () => {
    for (const doc of envVarDocs()) expect(doc.description, doc.name).not.toBe('');
  });

  test('the README configuration table is the one the schema generates', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const table = envMarkdownTable();
    const start = readme.indexOf(table.split('\n')[0]!);
    expect(start, 'README has the table header').toBeGreaterThan(-1);
    expect(readme.slice(start, start + table.length)).toBe(table);
  });
});
