import { describe, expect, test } from 'vitest';

import { ConfigError, loadConfig } from '../../src/config/config.js';

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
