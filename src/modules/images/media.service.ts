import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';

import { LRUCache } from 'lru-cache';

import type { Variant } from '../../api/images.js';
import { etagMatches } from '../../lib/etag.js';
import { notFound, unauthorized } from '../../lib/app-error.js';
import { ObjectNotFoundError, type ByteRange } from '../../storage/object-store.js';
import { findUserById } from '../auth/user.repository.js';
import { createDownloadCharges } from '../usage/download-charges.js';
import { transferQuotaOf } from '../usage/quota.js';
import type { StorageEvent } from '../usage/storage-event.repository.js';
import { appendEvents } from '../usage/storage-event.repository.js';
import { chargeRangedRead, createRangedReadLog } from '../usage/ranged-read-log.js';
import type { ImageServiceDeps } from './image-service-deps.js';
import { contentTypeOf, etagOf, isStreamedVariant, objectKey, variantFilename, variantSize } from './image-objects.js';
import { findImageById } from './image.repository.js';
import {
  createMediaCache,
  MEDIA_CACHE_DEFAULTS,
  type MediaCacheOptions,
  type MediaEntry,
  type VariantFacts,
} from './media-cache.js';
import { isImageId } from './media-url.js';

export interface MediaResponse {
  notModified: false;
  /** The bytes as a stream; made on first read when `body` holds them. */
  stream: Readable;
  /** The bytes themselves, for a small variant read whole (sent with one write, no stream). */
  body?: Buffer;
  contentType: string;
  /** Bytes in this response (the range, when one was asked for). */
  length: number;
  totalSize: number;
  range: ByteRange | undefined;
  etag: string;
  filename: string;
}

/** The answer to a conditional request whose ETag still matches: nothing was opened or charged. */
export interface NotModified {
  notModified: true;
  etag: string;
}

export interface OpenOptions {
  /** Asked with the variant's size before anything is opened or charged; what it throws fails the open. */
  range?: (size: number) => ByteRange | undefined;
  /** The request's If-None-Match header: when it matches, the answer is NotModified. */
  ifNoneMatch?: string;
}

/** What a variant would be served with, for a HEAD or a range that needs no body yet. */
export interface VariantInfo {
  etag: string;
  size: number;
  contentType: string;
}

/**
 * A media answer with its bytes: the buffer of a small variant read whole (sent with one write), or
 * the stream of a larger one. A caller that wants a stream of a buffered answer gets one made on its
 * first read, so the hot path that sends the buffer never builds one. A class, so that the getter is
 * its prototype's and not a new accessor on every answer.
 */
class Media implements MediaResponse {
  readonly notModified = false as const;
  readonly contentType: string;
  readonly length: number;
  readonly totalSize: number;
  readonly range: ByteRange | undefined;
  readonly etag: string;
  readonly filename: string;
  readonly body: Buffer | undefined;
  #stream: Readable | undefined;

  constructor(
    fields: Omit<MediaResponse, 'notModified' | 'body' | 'stream'>,
    body: Buffer | undefined,
    stream: Readable | undefined,
  ) {
    this.contentType = fields.contentType;
    this.length = fields.length;
    this.totalSize = fields.totalSize;
    this.range = fields.range;
    this.etag = fields.etag;
    this.filename = fields.filename;
    this.body = body;
    this.#stream = stream;
  }

  get stream(): Readable {
    this.#stream ??= Readable.from([this.body!]);
    return this.#stream;
  }
}

export const mediaResponse = (
  fields: Omit<MediaResponse, 'notModified' | 'body' | 'stream'>,
  body: Buffer | undefined,
  stream: Readable | undefined,
): MediaResponse => new Media(fields, body, stream);

export interface MediaService {
  /**
   * Opens one variant for sending, counting original and preview bytes against the daily transfer
   * quota (thumbnails are free, so the gallery always renders). One image lookup decides everything:
   * a matching `ifNoneMatch` answers NotModified before the range, the object or any charge.
   */
  open(userId: string, imageId: string, variant: Variant, options?: OpenOptions): Promise<MediaResponse | NotModified>;
  /**
   * open() without a promise, for what the media cache answers alone: a 304 for a fresh cached
   * entry, or a thumbnail whose bytes it holds (free of quota, its view logged in the batch).
   * Undefined for everything else, which open() answers.
   */
  openCached(
    userId: string,
    imageId: string,
    variant: Variant,
    ifNoneMatch?: string,
  ): MediaResponse | NotModified | undefined;
  /** A variant's ETag, size and type, without opening or charging anything. */
  describe(userId: string, imageId: string, variant: Variant): Promise<VariantInfo>;
}

/** What the composition root needs to keep the media cache honest: deletes on this process apply at once. */
export interface MediaCacheControl {
  forgetImage(imageId: string): void;
  forgetOwner(ownerId: string): void;
}

export function createMediaService(
  deps: Pick<ImageServiceDeps, 'db' | 'dialect' | 'store' | 'quotas' | 'thumbnailEvents' | 'now'>,
  cacheOptions: Partial<Omit<MediaCacheOptions, 'now'>> = {},
): MediaService & MediaCacheControl {
  const { db, dialect, store, quotas } = deps;
  const now = deps.now ?? Date.now;
  const options = { ...MEDIA_CACHE_DEFAULTS, ...cacheOptions, now };
  // Rows, bodies and quotas are trusted for `ttlMs` after they were read: on other replicas a delete,
  // a quota change or a removed account applies within that time, here at once (see forget*).
  const cache = createMediaCache(options);
  // Bounded like the cache: past 10,000 accounts the least recently used are read again when needed.
  const transferQuotas = new LRUCache<string, { quota: number; readAt: number }>({ max: 10_000 });
  const charges = createDownloadCharges(db, dialect);
  // A player or a download manager asks for many ranges of one object: one growing event row each.
  const rangedReads = createRangedReadLog();

  /** The image as a media request needs it, from the cache or the database; 404 unless `userId` owns it. */
  async function lookup(userId: string, imageId: string): Promise<MediaEntry> {
    let entry = cache.fresh(imageId);
    if (!entry) {
      const readAt = now();
      const row = isImageId(imageId) ? await findImageById(db, imageId) : undefined;
      if (!row) throw notFound();
      entry = cache.remember(row, readAt);
    }
    if (entry.row.owner_id !== userId) throw notFound();
    return entry;
  }

  /**
   * The cached entry, without a promise, when it is fresh, `userId` owns it and it has `variant`:
   * what nearly every request of a gallery finds. Undefined sends the caller to lookupVariant().
   */
  function cachedVariant(userId: string, imageId: string, variant: Variant): MediaEntry | undefined {
    const entry = cache.fresh(imageId);
    if (!entry || entry.row.owner_id !== userId) return undefined;
    return variant !== 'playback' || entry.row.playback_state === 'ready' ? entry : undefined;
  }

  /**
   * lookup(), for a variant that exists: a video's playback copy once recorded. The cached row may
   * predate the copy (it is made in the background), so one that has none is read again first.
   */
  async function lookupVariant(userId: string, imageId: string, variant: Variant): Promise<MediaEntry> {
    let entry = await lookup(userId, imageId);
    if (variant !== 'playback' || entry.row.playback_state === 'ready') return entry;
    cache.forget(imageId);
    entry = await lookup(userId, imageId);
    if (entry.row.playback_state !== 'ready') throw notFound();
    return entry;
  }

  async function transferQuota(userId: string): Promise<number> {
    const known = transferQuotas.get(userId);
    if (known && now() - known.readAt < options.ttlMs) return known.quota;
    const readAt = now();
    const user = await findUserById(db, userId);
    if (!user) throw unauthorized();
    const quota = transferQuotaOf(user, quotas);
    transferQuotas.set(userId, { quota, readAt });
    return quota;
  }

  /** The variant's ETag, key, size, type and file name, built once per cached row. */
  function factsOf(entry: MediaEntry, variant: Variant): VariantFacts {
    let facts = entry.facts[variant];
    if (!facts) {
      const { row } = entry;
      facts = {
        etag: etagOf(row, variant),
        key: objectKey(row, variant),
        size: variantSize(row, variant),
        contentType: contentTypeOf(row, variant),
        filename: variantFilename(row, variant),
      };
      entry.facts[variant] = facts;
    }
    return facts;
  }

  /** Logs a sent variant and, unless it is a thumbnail, charges it to the owner's transfer of the day. */
  async function charge(event: StorageEvent, variant: Variant, filename: string): Promise<void> {
    if (variant === 'thumbnail') {
      // Free of quota; without a batcher (open() hands it the event otherwise) logged at once.
      await appendEvents(db, [event]);
      return;
    }
    // Read before the transaction: on SQLite a query outside it would wait for it forever.
    const quota = await transferQuota(event.user_id);
    // The viewer of a media URL is its owner (a signed link or their own token), so ranges coalesce per account.
    if (event.status === 206) {
      await chargeRangedRead(db, dialect, rangedReads, event, event.user_id, quota, `"${filename}"`);
    } else await charges.charge(event, quota, `"${filename}"`);
  }

  /** A small variant's bytes, from the entry or read whole once; undefined for one read as a stream. */
  async function smallBody(
    entry: MediaEntry,
    variant: Variant,
    key: string,
    size: number,
  ): Promise<Buffer | undefined> {
    const held = entry.bodies[variant];
    if (held) return held;
    if (isStreamedVariant(variant) || size > options.maxBodyBytes) return undefined;
    const bytes = await buffer(await store.get(key, undefined, size));
    cache.keepBody(entry, variant, bytes);
    return bytes;
  }

  /** The log entry of a variant sent to its owner. */
  const downloadEvent = (
    userId: string,
    entry: MediaEntry,
    key: string,
    bytes: number,
    status: number,
  ): StorageEvent => ({
    at: now(),
    user_id: userId,
    image_id: entry.row.id,
    operation: 'download',
    object_key: key,
    bytes,
    status,
  });

  /**
   * What a fresh cache entry answers alone: a 304 when `ifNoneMatch` matches, or a thumbnail whose
   * bytes it holds (free of quota, its view logged in the batch); undefined for anything else.
   */
  function heldAnswer(
    userId: string,
    entry: MediaEntry,
    variant: Variant,
    ifNoneMatch: string | undefined,
  ): MediaResponse | NotModified | undefined {
    const { etag, key, size, contentType, filename } = factsOf(entry, variant);
    if (etagMatches(ifNoneMatch, etag)) return { notModified: true, etag };
    const body = entry.bodies[variant];
    if (variant !== 'thumbnail' || !body || !deps.thumbnailEvents) return undefined;
    deps.thumbnailEvents.add(downloadEvent(userId, entry, key, size, 200));
    return mediaResponse(
      { contentType, length: size, totalSize: size, range: undefined, etag, filename },
      body,
      undefined,
    );
  }

  return {
    forgetImage: (imageId) => cache.forget(imageId),
    forgetOwner(ownerId) {
      cache.forgetOwner(ownerId);
      transferQuotas.delete(ownerId);
    },

    async describe(userId, imageId, variant) {
      const { row } = await lookupVariant(userId, imageId, variant);
      return { etag: etagOf(row, variant), size: variantSize(row, variant), contentType: contentTypeOf(row, variant) };
    },

    openCached(userId, imageId, variant, ifNoneMatch) {
      const entry = cachedVariant(userId, imageId, variant);
      return entry && heldAnswer(userId, entry, variant, ifNoneMatch);
    },

    async open(userId, imageId, variant, options = {}) {
      const cached = cachedVariant(userId, imageId, variant);
      // What the cache answers alone (a 304, a held thumbnail) needs no promise of its own.
      const held = cached && !options.range ? heldAnswer(userId, cached, variant, options.ifNoneMatch) : undefined;
      if (held) return held;
      const entry = cached ?? (await lookupVariant(userId, imageId, variant));
      const { row } = entry;
      const { etag, key, size: totalSize, contentType, filename } = factsOf(entry, variant);
      if (etagMatches(options.ifNoneMatch, etag)) return { notModified: true, etag };
      const range = options.range?.(totalSize);
      const length = range ? range.end - range.start + 1 : totalSize;
      // A delete may remove the objects between the lookup above and this read: then it is not found.
      let body: Buffer | undefined;
      let stream: Readable | undefined;
      try {
        body = range ? undefined : (entry.bodies[variant] ?? (await smallBody(entry, variant, key, totalSize)));
        if (!body) stream = await store.get(key, range, totalSize);
      } catch (error) {
        if (error instanceof ObjectNotFoundError) {
          cache.forget(imageId);
          throw notFound();
        }
        throw error;
      }
      const event = downloadEvent(userId, entry, key, length, range ? 206 : 200);
      try {
        // Thumbnails are free of quota and their log is written in batches: nothing to wait for.
        if (variant === 'thumbnail' && deps.thumbnailEvents) deps.thumbnailEvents.add(event);
        else await charge(event, variant, row.filename);
      } catch (error) {
        stream?.destroy();
        throw error;
      }
      return mediaResponse({ contentType, length, totalSize, range, etag, filename }, body, stream);
    },
  };
}
