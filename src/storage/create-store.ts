import path from 'node:path';

import { createFsStore } from './fs/fs-store.js';
import type { ObjectStore } from './object-store.js';

export interface CreateObjectStoreOptions {
  /** Required for `azure://` URLs. */
  azureConnectionString?: string;
}

/**
 * The path of a `file://` storage URL. The URL is read as text, the inverse of `file://${path}` as the
 * config builds it, so a directory with spaces or `%` works without percent-encoding:
 * `file:///var/pixa/objects` is absolute, `file://./objects` and `file://objects` are relative to the
 * working directory.
 */
export function fileUrlPath(storageUrl: string): string {
  const raw = storageUrl.slice('file://'.length);
  if (raw === '') throw new Error('storage URL file:// needs a path, e.g. file:///var/lib/pixa/objects');
  return path.resolve(raw);
}

/**
 * Opens the object store a storage URL names: `file:///path`, `s3://bucket/prefix?…` or
 * `azure://container/prefix`. The cloud drivers are loaded on demand so embedded mode never loads
 * their SDKs.
 */
export async function createObjectStore(storageUrl: string, opts: CreateObjectStoreOptions = {}): Promise<ObjectStore> {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(storageUrl)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'file':
      return createFsStore(fileUrlPath(storageUrl));
    case 's3': {
      const { createS3Store } = await import('./s3/s3-store.js');
      return createS3Store(new URL(storageUrl));
    }
    case 'azure': {
      if (!opts.azureConnectionString) {
        throw new Error('azure:// storage needs a connection string (PIXA_AZURE_CONNECTION_STRING)');
      }
      const { createAzureStore } = await import('./azure/azure-store.js');
      return createAzureStore(new URL(storageUrl), opts.azureConnectionString);
    }
    default:
      throw new Error(`unsupported storage URL ${JSON.stringify(storageUrl)}: use file://, s3:// or azure://`);
  }
}
