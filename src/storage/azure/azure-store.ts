import { Readable, Transform } from 'node:stream';

import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';

import { isNetworkError } from '../../lib/network-errors.js';
import {
  assertRange,
  ObjectNotFoundError,
  StoreUnavailableError,
  type ByteRange,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
} from '../object-store.js';
import { positiveIntParam } from '../url-params.js';

const MiB = 1024 * 1024;

/** Settings read from an `azure://container/prefix?…` storage URL. */
export interface AzureStoreSettings {
  container: string;
  /** Blob name prefix, empty or ending in `/`. */
  prefix: string;
  /** Block size of streamed uploads; each block is buffered in memory. */
  partSize: number;
  /** Blocks staged in parallel per upload. */
  queueSize: number;
  /** How long a request may wait for its response headers, and an upload may go without progress. */
  requestTimeoutMs: number;
}

/** Reads `azure://container/prefix?partSize=&queueSize=&requestTimeoutMs=`. */
export function parseAzureUrl(url: URL): AzureStoreSettings {
  if (url.protocol !== 'azure:') throw new Error(`not an azure:// URL: ${url.protocol}`);
  const container = decodeURIComponent(url.hostname);
  if (!container) throw new Error('azure storage URL needs a container: azure://container/prefix');
  const path = decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, '');
  const q = url.searchParams;
  return {
    container,
    prefix: path === '' ? '' : `${path}/`,
    partSize: positiveIntParam(q, 'partSize', 8 * MiB, 'azure'),
    queueSize: positiveIntParam(q, 'queueSize', 2, 'azure'),
    requestTimeoutMs: positiveIntParam(q, 'requestTimeoutMs', 30_000, 'azure'),
  };
}

/** The SDK's own code for a request that could not be sent (its wrapper of a network error). */
const REQUEST_SEND_ERROR = 'REQUEST_SEND_ERROR';

interface RestErrorLike {
  name?: string;
  code?: string;
  statusCode?: number;
  details?: { errorCode?: string };
}

function asRestError(err: unknown): RestErrorLike {
  return typeof err === 'object' && err !== null ? (err as RestErrorLike) : {};
}

function isNotFound(err: unknown): boolean {
  const e = asRestError(err);
  return e.statusCode === 404 || e.code === 'BlobNotFound' || e.code === 'ContainerNotFound';
}

function isUnavailable(err: unknown): boolean {
  if (isNetworkError(err)) return true;
  const e = asRestError(err);
  if (e.code === REQUEST_SEND_ERROR) return true;
  if (e.name === 'AbortError') return true;
  // Bad account key or a revoked SAS make the store unusable, as does a 5xx.
  return e.statusCode !== undefined && (e.statusCode >= 500 || e.statusCode === 401 || e.statusCode === 403);
}

function translate(err: unknown, what: string): unknown {
  if (err instanceof StoreUnavailableError || err instanceof ObjectNotFoundError) return err;
  if (isUnavailable(err)) {
    const e = asRestError(err);
    return new StoreUnavailableError(`azure ${what} failed: ${e.code ?? e.statusCode ?? e.name ?? 'error'}`, {
      cause: err,
    });
  }
  return err;
}

/**
 * An abort signal that fires when `ms` pass without `touch()`. The SDK has no client-side connect or
 * response timeout, so a black-holed endpoint would otherwise hang a request for minutes.
 */
function watchdog(ms: number): { signal: AbortSignal; touch(): void; done(): void } {
  const controller = new AbortController();
  let timer = setTimeout(() => controller.abort(), ms);
  return {
    signal: controller.signal,
    touch() {
      clearTimeout(timer);
      timer = setTimeout(() => controller.abort(), ms);
    },
    done() {
      clearTimeout(timer);
    },
  };
}

/**
 * An object store in an Azure Blob Storage container (or Azurite). Streamed puts stage blocks and
 * commit the block list at the end, so a blob appears whole or not at all.
 */
export function createAzureStore(url: URL, connectionString: string): ObjectStore {
  const settings = parseAzureUrl(url);
  const { prefix, requestTimeoutMs } = settings;
  const service = BlobServiceClient.fromConnectionString(connectionString, {
    // Fail within a few seconds when the endpoint is down instead of the default minutes of backoff.
    retryOptions: { maxTries: 3, retryDelayInMs: 500, maxRetryDelayInMs: 2_000 },
  });
  const container: ContainerClient = service.getContainerClient(settings.container);
  let containerReady: Promise<void> | undefined;

  const blob = (key: string) => {
    if (key.length === 0 || key.startsWith('/')) throw new Error(`invalid object key: ${JSON.stringify(key)}`);
    return container.getBlockBlobClient(prefix + key);
  };

  /** Creates the container on first use; a failure is retried on the next call. */
  function ensureContainer(): Promise<void> {
    containerReady ??= container
      .createIfNotExists({ abortSignal: AbortSignal.timeout(requestTimeoutMs) })
      .then(() => undefined)
      .catch((err: unknown) => {
        containerReady = undefined;
        throw translate(err, 'create container');
      });
    return containerReady;
  }

  return {
    kind: 'azure',

    async put(key: string, body: Readable | Buffer, options?: PutOptions): Promise<void> {
      const client = blob(key);
      // Remember a failure of the source itself: it is the cause worth reporting.
      let sourceError: unknown;
      const onSourceError = (err: unknown): void => {
        sourceError = err;
      };
      if (body instanceof Readable) body.once('error', onSourceError);
      const dog = watchdog(requestTimeoutMs);
      try {
        await ensureContainer();
        dog.touch();
        const common = {
          abortSignal: dog.signal,
          onProgress: () => dog.touch(),
          blobHTTPHeaders: options?.contentType ? { blobContentType: options.contentType } : undefined,
        };
        if (Buffer.isBuffer(body)) {
          await client.uploadData(body, { ...common, blockSize: settings.partSize, concurrency: settings.queueSize });
        } else {
          // Progress events come only per committed block, so a slow but live source also counts as
          // activity: with a dead store the source soon stalls on backpressure and the watchdog fires.
          const tap = new Transform({
            transform(chunk: Buffer, _encoding, callback) {
              dog.touch();
              callback(null, chunk);
            },
          });
          body.once('error', (err) => tap.destroy(err));
          await client.uploadStream(body.pipe(tap), settings.partSize, settings.queueSize, common);
        }
      } catch (err) {
        if (body instanceof Readable && !body.destroyed) body.destroy();
        throw sourceError ?? translate(err, 'put');
      } finally {
        dog.done();
        if (body instanceof Readable) body.off('error', onSourceError);
      }
    },

    async get(key: string, range?: ByteRange): Promise<Readable> {
      const client = blob(key);
      if (range) assertRange(range);
      // Bound only the wait for the response headers; the body may stream for as long as it takes.
      const dog = watchdog(requestTimeoutMs);
      try {
        const res = range
          ? await client.download(range.start, range.end - range.start + 1, { abortSignal: dog.signal })
          : await client.download(0, undefined, { abortSignal: dog.signal });
        const stream = res.readableStreamBody;
        if (!stream) throw new Error('azure download returned no stream body');
        const body = stream instanceof Readable ? stream : Readable.from(stream);
        // Azurite answers a range starting exactly at the end with an empty 206 `bytes 10-9/10` where
        // Azure answers 416; treat both alike.
        const served = /^bytes (\d+)-(\d+)\//.exec(res.contentRange ?? '');
        if (range && served && Number(served[2]) < Number(served[1])) {
          body.destroy();
          throw new RangeError(`range ${range.start}-${range.end} is outside ${key}`);
        }
        return body;
      } catch (err) {
        if (err instanceof RangeError) throw err;
        if (isNotFound(err)) throw new ObjectNotFoundError(key);
        if (asRestError(err).statusCode === 416) {
          throw new RangeError(`range ${range?.start}-${range?.end} is outside ${key}`);
        }
        throw translate(err, 'get');
      } finally {
        dog.done();
      }
    },

    async stat(key: string): Promise<ObjectInfo | undefined> {
      try {
        const props = await blob(key).getProperties({ abortSignal: AbortSignal.timeout(requestTimeoutMs) });
        return { key, size: props.contentLength ?? 0, modifiedAt: props.lastModified?.getTime() ?? 0 };
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw translate(err, 'stat');
      }
    },

    async delete(key: string): Promise<void> {
      try {
        await blob(key).deleteIfExists({ abortSignal: AbortSignal.timeout(requestTimeoutMs) });
      } catch (err) {
        if (isNotFound(err)) return;
        throw translate(err, 'delete');
      }
    },

    async *list(listPrefix: string): AsyncIterable<ObjectInfo> {
      const pages = container.listBlobsFlat({ prefix: prefix + listPrefix }).byPage({ maxPageSize: 1000 });
      while (true) {
        let page;
        try {
          page = await pages.next();
        } catch (err) {
          if (isNotFound(err)) return; // no container yet, so no blobs
          throw translate(err, 'list');
        }
        if (page.done) return;
        for (const item of page.value.segment.blobItems) {
          yield {
            key: item.name.slice(prefix.length),
            size: item.properties.contentLength ?? 0,
            modifiedAt: item.properties.lastModified.getTime(),
          };
        }
      }
    },

    async cleanupIncomplete(_olderThanMs: number): Promise<number> {
      // Blocks staged but never committed are garbage-collected by Azure itself (after a week), and they
      // are invisible to readers meanwhile; the API offers no way to drop them without touching the blob.
      return 0;
    },

    async ping(): Promise<void> {
      try {
        await container.getProperties({ abortSignal: AbortSignal.timeout(requestTimeoutMs) });
      } catch (err) {
        if (asRestError(err).statusCode !== 404) {
          throw new StoreUnavailableError(`azure container ${settings.container} is not reachable`, { cause: err });
        }
        // Reachable but the container is missing: create it, as the first put would.
        await ensureContainer().catch((createErr: unknown) => {
          throw createErr instanceof StoreUnavailableError
            ? createErr
            : new StoreUnavailableError(`azure container ${settings.container} cannot be created`, {
                cause: createErr,
              });
        });
      }
    },

    async close(): Promise<void> {},
  };
}
