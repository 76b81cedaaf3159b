import { Readable } from 'node:stream';

import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

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
/** S3 refuses multipart parts below 5 MiB (except the last one). */
const MIN_PART_SIZE = 5 * MiB;

/** Settings read from an `s3://bucket/prefix?…` storage URL. */
export interface S3StoreSettings {
  bucket: string;
  /** Key prefix inside the bucket, empty or ending in `/`. */
  prefix: string;
  clientConfig: S3ClientConfig;
  partSize: number;
  queueSize: number;
}

function checksumMode(raw: string | null): 'WHEN_REQUIRED' | 'WHEN_SUPPORTED' {
  const value = (raw ?? 'when_supported').toLowerCase();
  if (value === 'when_required') return 'WHEN_REQUIRED';
  if (value === 'when_supported') return 'WHEN_SUPPORTED';
  throw new Error('s3 storage URL: checksums must be when_required or when_supported');
}

/**
 * Reads `s3://bucket/prefix?region=&endpoint=&forcePathStyle=&accessKeyId=&secretAccessKey=&sessionToken=
 * &checksums=when_required&partSize=&queueSize=&connectTimeoutMs=&requestTimeoutMs=&maxAttempts=`.
 * Without keys in the URL the SDK's standard chain (env, profile, web identity, instance role) applies.
 */
export function parseS3Url(url: URL): S3StoreSettings {
  if (url.protocol !== 's3:') throw new Error(`not an s3:// URL: ${url.protocol}`);
  const bucket = decodeURIComponent(url.hostname);
  if (!bucket) throw new Error('s3 storage URL needs a bucket: s3://bucket/prefix');
  const path = decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, '');
  const q = url.searchParams;
  const endpoint = q.get('endpoint') || undefined;
  const accessKeyId = q.get('accessKeyId');
  const secretAccessKey = q.get('secretAccessKey');
  if (Boolean(accessKeyId) !== Boolean(secretAccessKey)) {
    throw new Error('s3 storage URL: give both accessKeyId and secretAccessKey, or neither');
  }
  const partSize = positiveIntParam(q, 'partSize', 8 * MiB, 's3');
  if (partSize < MIN_PART_SIZE) throw new Error('s3 storage URL: partSize must be at least 5 MiB (5242880)');
  const checksums = checksumMode(q.get('checksums'));
  return {
    bucket,
    prefix: path === '' ? '' : `${path}/`,
    partSize,
    queueSize: positiveIntParam(q, 'queueSize', 2, 's3'),
    clientConfig: {
      // A custom endpoint (MinIO, R2, s3rver) rarely cares about the region, but the SDK needs one.
      region: q.get('region') || (endpoint ? 'us-east-1' : undefined),
      endpoint,
      forcePathStyle: ['true', '1', 'yes'].includes((q.get('forcePathStyle') ?? '').toLowerCase()),
      credentials:
        accessKeyId && secretAccessKey
          ? { accessKeyId, secretAccessKey, sessionToken: q.get('sessionToken') || undefined }
          : undefined,
      // Some S3-compatible servers store the aws-chunked framing of flexible checksums inside the
      // object; `checksums=when_required` turns that framing off (DESIGN.md, known pitfalls).
      requestChecksumCalculation: checksums,
      responseChecksumValidation: checksums,
      maxAttempts: positiveIntParam(q, 'maxAttempts', 3, 's3'),
      // Without timeouts a dead or black-holed endpoint hangs requests for minutes.
      requestHandler: {
        connectionTimeout: positiveIntParam(q, 'connectTimeoutMs', 3_000, 's3'),
        // Counts until the response headers arrive, so it bounds a part upload but not a long download.
        requestTimeout: positiveIntParam(q, 'requestTimeoutMs', 60_000, 's3'),
        throwOnRequestTimeout: true,
        // An idle socket mid-transfer means the store went away.
        socketTimeout: 60_000,
      },
    },
  };
}

const UNAVAILABLE_NAMES = new Set([
  'TimeoutError',
  'CredentialsProviderError',
  'ServiceUnavailable',
  'SlowDown',
  'InternalError',
  'RequestTimeout',
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'NoSuchBucket',
]);

interface SdkError {
  name?: string;
  code?: string;
  errors?: unknown[];
  $metadata?: { httpStatusCode?: number };
}

function asSdkError(err: unknown): SdkError {
  return typeof err === 'object' && err !== null ? (err as SdkError) : {};
}

function status(err: unknown): number | undefined {
  return asSdkError(err).$metadata?.httpStatusCode;
}

function isNotFound(err: unknown): boolean {
  const e = asSdkError(err);
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || status(err) === 404;
}

function isUnavailable(err: unknown): boolean {
  if (isNetworkError(err)) return true;
  const e = asSdkError(err);
  if (e.name !== undefined && UNAVAILABLE_NAMES.has(e.name)) return true;
  const code = status(err);
  // Wrong credentials or a missing bucket make the store unusable, as does a 5xx.
  return code !== undefined && (code >= 500 || code === 401 || code === 403);
}

function translate(err: unknown, what: string): unknown {
  if (err instanceof StoreUnavailableError || err instanceof ObjectNotFoundError) return err;
  if (isUnavailable(err)) {
    const e = asSdkError(err);
    return new StoreUnavailableError(`s3 ${what} failed: ${e.name ?? 'error'} ${e.code ?? status(err) ?? ''}`.trim(), {
      cause: err,
    });
  }
  return err;
}

/** Yields `length` bytes of `source` after skipping `skip`, then stops reading it. */
async function* sliceBytes(source: Readable, skip: number, length: number): AsyncGenerator<Buffer> {
  let offset = 0;
  const stop = skip + length;
  for await (const chunk of source as AsyncIterable<Buffer>) {
    const from = Math.max(0, skip - offset);
    const to = Math.min(chunk.length, stop - offset);
    offset += chunk.length;
    if (to > from) yield chunk.subarray(from, to);
    if (offset >= stop) return; // leaving the loop destroys the source
  }
}

/**
 * Servers may ignore a Range (200, whole object) or widen it: s3rver answers `bytes=0-0` with the whole
 * object because it reads an end of 0 as "no end". Trim what was served to what was asked.
 */
function exactRange(body: Readable, contentRange: string | undefined, range: ByteRange): Readable {
  const served = /^bytes (\d+)-(\d+)\//.exec(contentRange ?? '');
  const servedStart = served ? Number(served[1]) : 0;
  const servedEnd = served ? Number(served[2]) : Infinity;
  if (servedStart === range.start && servedEnd <= range.end) return body;
  if (servedStart > range.start) {
    body.destroy();
    throw new Error(`s3 served bytes from ${servedStart} for a range starting at ${range.start}`);
  }
  return Readable.from(sliceBytes(body, range.start - servedStart, range.end - range.start + 1), {
    objectMode: false,
  });
}

/**
 * An object store in an S3 bucket (AWS, MinIO, R2, any S3-protocol server). Puts stream through
 * multipart uploads, which S3 makes visible only on completion, so readers never see partial objects.
 */
export function createS3Store(url: URL): ObjectStore {
  const settings = parseS3Url(url);
  const { bucket, prefix } = settings;
  const client = new S3Client(settings.clientConfig);
  const fullKey = (key: string): string => {
    if (key.length === 0 || key.startsWith('/')) throw new Error(`invalid object key: ${JSON.stringify(key)}`);
    return prefix + key;
  };

  return {
    kind: 's3',

    async put(key: string, body: Readable | Buffer, options?: PutOptions): Promise<void> {
      // Remember a failure of the source itself: it is the cause worth reporting, not the abort after it.
      let sourceError: unknown;
      const onSourceError = (err: unknown): void => {
        sourceError = err;
      };
      if (body instanceof Readable) body.once('error', onSourceError);
      try {
        const upload = new Upload({
          client,
          params: { Bucket: bucket, Key: fullKey(key), Body: body, ContentType: options?.contentType },
          partSize: settings.partSize,
          queueSize: settings.queueSize,
          leavePartsOnError: false,
        });
        await upload.done();
      } catch (err) {
        if (body instanceof Readable && !body.destroyed) body.destroy();
        throw sourceError ?? translate(err, 'put');
      } finally {
        if (body instanceof Readable) body.off('error', onSourceError);
      }
    },

    async get(key: string, range?: ByteRange): Promise<Readable> {
      if (range) assertRange(range);
      try {
        const res = await client.send(
          new GetObjectCommand({
            Bucket: bucket,
            Key: fullKey(key),
            Range: range ? `bytes=${range.start}-${range.end}` : undefined,
          }),
        );
        if (!(res.Body instanceof Readable)) throw new Error('s3 get returned no stream body');
        return range ? exactRange(res.Body, res.ContentRange, range) : res.Body;
      } catch (err) {
        if (isNotFound(err)) throw new ObjectNotFoundError(key);
        if (asSdkError(err).name === 'InvalidRange' || status(err) === 416) {
          throw new RangeError(`range ${range?.start}-${range?.end} is outside ${key}`);
        }
        throw translate(err, 'get');
      }
    },

    async stat(key: string): Promise<ObjectInfo | undefined> {
      try {
        const res = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: fullKey(key) }));
        return { key, size: res.ContentLength ?? 0, modifiedAt: res.LastModified?.getTime() ?? 0 };
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw translate(err, 'stat');
      }
    },

    async delete(key: string): Promise<void> {
      try {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: fullKey(key) }));
      } catch (err) {
        if (isNotFound(err)) return;
        throw translate(err, 'delete');
      }
    },

    async *list(listPrefix: string): AsyncIterable<ObjectInfo> {
      let token: string | undefined;
      do {
        let page;
        try {
          page = await client.send(
            new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix + listPrefix, ContinuationToken: token }),
          );
        } catch (err) {
          throw translate(err, 'list');
        }
        for (const obj of page.Contents ?? []) {
          if (obj.Key === undefined) continue;
          yield {
            key: obj.Key.slice(prefix.length),
            size: obj.Size ?? 0,
            modifiedAt: obj.LastModified?.getTime() ?? 0,
          };
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    },

    async cleanupIncomplete(olderThanMs: number): Promise<number> {
      const cutoff = Date.now() - olderThanMs;
      let removed = 0;
      let keyMarker: string | undefined;
      let uploadIdMarker: string | undefined;
      try {
        do {
          const page = await client.send(
            new ListMultipartUploadsCommand({
              Bucket: bucket,
              Prefix: prefix,
              KeyMarker: keyMarker,
              UploadIdMarker: uploadIdMarker,
            }),
          );
          for (const upload of page.Uploads ?? []) {
            if (!upload.Key || !upload.UploadId || (upload.Initiated?.getTime() ?? 0) >= cutoff) continue;
            await client.send(
              new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }),
            );
            removed++;
          }
          keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
          uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
        } while (keyMarker);
      } catch (err) {
        // Some S3-protocol servers (s3rver) cannot list multipart uploads; there is nothing we can remove.
        // A bucket lifecycle rule (AbortIncompleteMultipartUpload) is the backstop on real S3 anyway.
        if (asSdkError(err).name === 'NotImplemented' || status(err) === 501) return removed;
        throw translate(err, 'cleanup');
      }
      return removed;
    },

    async ping(): Promise<void> {
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }));
      } catch (err) {
        const e = asSdkError(err);
        throw new StoreUnavailableError(`s3 bucket ${bucket} is not reachable: ${e.name ?? 'error'}`, { cause: err });
      }
    },

    async close(): Promise<void> {
      client.destroy();
    },
  };
}
