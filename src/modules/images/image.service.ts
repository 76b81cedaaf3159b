import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';

import type { Kysely } from 'kysely';

import { isUniqueViolation, type DialectName } from '../../db/database.js';
import { inTransaction } from '../../db/transaction.js';
import type { DB } from '../../db/tables.js';
import {
  DERIVATIVE_TYPE,
  ImageRejectedError,
  makeDerivatives,
  probeImage,
  type Derivatives,
  type ProbedImage,
} from '../../image/image-processor.js';
import { etagMatches } from '../../http/media-headers.js';
import { AppError, notFound, unauthorized } from '../../lib/app-error.js';
import { mb } from '../../lib/format.js';
import { newId } from '../../lib/ids.js';
import { nextUtcMidnight, toIso, utcDay } from '../../lib/time.js';
import { ObjectNotFoundError, type ByteRange, type ObjectStore } from '../../storage/object-store.js';
import { findUserById, releaseStorage, reserveStorage, type UserRow } from '../auth/user.repository.js';
import { storageQuotaOf, transferQuotaOf, type QuotaDefaults } from '../usage/quota.js';
import type { EventBatcher } from '../usage/event-batcher.js';
import { appendEvents, type StorageEvent } from '../usage/storage-event.repository.js';
import { reserveTransfer, transferOfDay } from '../usage/transfer.repository.js';
import { cleanFilename } from './filename.js';
import * as images from './image.repository.js';
import { isImageId, type MediaUrlSigner, type Variant } from './media-url.js';
import { removeTempFile, stageToTempFile, type StagedFile } from './upload-staging.js';

export interface ImageDto {
  id: string;
  filename: string;
  mediaType: string;
  size: number;
  width: number;
  height: number;
  takenAt: string;
  uploadedAt: string;
  urls: { thumbnail: string; preview: string; original: string; download: string };
}

export interface UploadedImageDto extends ImageDto {
  /** True when these exact bytes were already in the account: nothing new was stored. */
  duplicate: boolean;
}

export interface ImagePage {
  items: ImageDto[];
  nextCursor: string | null;
}

/** One file of an upload request, as the HTTP layer hands it over. */
export interface UploadPart {
  filename: string | undefined;
  stream: Readable;
}

export interface MediaResponse {
  notModified: false;
  stream: Readable;
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

export interface ImageService {
  /** Throws 429 at once when the account has no room left, before any bytes are read. */
  assertCanUpload(userId: string): Promise<void>;
  upload(userId: string, parts: AsyncIterable<UploadPart>): Promise<UploadedImageDto[]>;
  list(userId: string, limit: number, cursor: string | undefined): Promise<ImagePage>;
  get(userId: string, imageId: string): Promise<ImageDto>;
  remove(userId: string, imageId: string): Promise<void>;
  /** Removes every image of an account (objects and rows), before the account itself is deleted. */
  removeAll(userId: string): Promise<number>;
  /**
   * Opens one variant for sending, counting original and preview bytes against the daily transfer
   * quota (thumbnails are free, so the gallery always renders). One image lookup decides everything:
   * a matching `ifNoneMatch` answers NotModified before the range, the object or any charge.
   */
  open(userId: string, imageId: string, variant: Variant, options?: OpenOptions): Promise<MediaResponse | NotModified>;
  /** A variant's ETag, size and type, without opening or charging anything. */
  describe(userId: string, imageId: string, variant: Variant): Promise<VariantInfo>;
}

export interface ImageServiceDeps {
  db: Kysely<DB>;
  dialect: DialectName;
  store: ObjectStore;
  signer: MediaUrlSigner;
  quotas: QuotaDefaults;
  maxPixels: number;
  tmpDir: string;
  /** Where thumbnail views are logged; without it each is written at once. */
  thumbnailEvents?: EventBatcher;
  now?: () => number;
}

const OBJECT_NAMES: Record<Variant, string> = {
  original: 'original',
  preview: 'preview.webp',
  thumbnail: 'thumb.webp',
};

export const objectKey = (row: Pick<images.ImageRow, 'object_prefix'>, variant: Variant): string =>
  `${row.object_prefix}${OBJECT_NAMES[variant]}`;

interface Prepared {
  staged: StagedFile;
  filename: string;
  /** Undefined for bytes the account already has: nothing new to decode or store. */
  decoded?: Decoded;
}

interface Decoded {
  probed: ProbedImage;
  derivatives: Derivatives;
}

export function createImageService(deps: ImageServiceDeps): ImageService {
  const { db, dialect, store, signer, quotas, maxPixels, tmpDir } = deps;
  const now = deps.now ?? Date.now;

  const toDto = (row: images.ImageRow): ImageDto => ({
    id: row.id,
    filename: row.filename,
    mediaType: row.media_type,
    size: row.original_bytes,
    width: row.width,
    height: row.height,
    takenAt: toIso(row.taken_at),
    uploadedAt: toIso(row.uploaded_at),
    urls: {
      thumbnail: signer.url(row.owner_id, row.id, 'thumbnail'),
      preview: signer.url(row.owner_id, row.id, 'preview'),
      original: signer.url(row.owner_id, row.id, 'original'),
      download: signer.url(row.owner_id, row.id, 'original', { download: true }),
    },
  });

  async function userOrThrow(userId: string): Promise<UserRow> {
    const user = await findUserById(db, userId);
    if (!user) throw unauthorized();
    return user;
  }

  function transferExceeded(quota: number, used: number, wanted: number, what: string): AppError {
    const at = now();
    const seconds = Math.max(1, Math.ceil((nextUtcMidnight(at) - at) / 1000));
    // Round the whole wait up to minutes first, so it never reads "1 h 60 min".
    const totalMinutes = Math.ceil(seconds / 60);
    const hours = Math.floor(totalMinutes / 60);
    const wait = hours > 0 ? `${hours} h ${totalMinutes % 60} min` : `${totalMinutes} min`;
    return new AppError(
      'transfer_quota_exceeded',
      429,
      `Daily transfer quota reached: ${what} needs ${amount(wanted)}, and ${amount(used)} of your ${amount(quota)} ` +
        `for today are used. It resets at 00:00 UTC, in ${wait}.`,
      { 'retry-after': String(seconds) },
    );
  }

  const storageExceeded = (quota: number, used: number, wanted: number, what: string): AppError =>
    new AppError(
      'storage_quota_exceeded',
      429,
      `Storage quota reached: ${what} needs ${amount(wanted)}, but only ${amount(Math.max(0, quota - used))} of ` +
        `your ${amount(quota)} are free. Delete some photos to make room.`,
    );

  /** Stages one file and, unless the account has these bytes already, checks and decodes it. */
  async function prepare(userId: string, part: UploadPart): Promise<Prepared> {
    const filename = cleanFilename(part.filename);
    const staged = await stageToTempFile(part.stream, tmpDir);
    try {
      if (staged.size === 0) throw new AppError('invalid_image', 400, `"${filename}" is empty.`);
      const known = await images.findBySha256(db, userId, staged.sha256);
      return { staged, filename, decoded: known ? undefined : await decode(staged, filename) };
    } catch (error) {
      await removeTempFile(staged.path);
      throw error;
    }
  }

  async function decode(staged: StagedFile, filename: string): Promise<Decoded> {
    try {
      return {
        probed: await probeImage(staged.path, maxPixels),
        derivatives: await makeDerivatives(staged.path, maxPixels),
      };
    } catch (error) {
      throw error instanceof ImageRejectedError ? rejectionError(filename, error) : error;
    }
  }

  /** Writes the objects of new images, then records them all in one transaction with the quotas. */
  async function commit(user: UserRow, batch: Prepared[]): Promise<UploadedImageDto[]> {
    const results: UploadedImageDto[] = [];
    const fresh: { row: images.ImageRow; item: Prepared; derivatives: Derivatives }[] = [];
    const seen = new Map<string, images.ImageRow>();
    const at = now();
    for (const item of batch) {
      const existing = seen.get(item.staged.sha256) ?? (await images.findBySha256(db, user.id, item.staged.sha256));
      if (existing) {
        seen.set(item.staged.sha256, existing);
        results.push({ ...toDto(existing), duplicate: true });
        continue;
      }
      // Known when staged, deleted since: decode it now after all.
      const { probed, derivatives } = item.decoded ?? (await decode(item.staged, item.filename));
      const id = newId();
      const row: images.ImageRow = {
        id,
        owner_id: user.id,
        sha256: item.staged.sha256,
        filename: item.filename,
        media_type: probed.mediaType,
        original_bytes: item.staged.size,
        thumbnail_bytes: derivatives.thumbnail.length,
        preview_bytes: derivatives.preview.length,
        width: probed.width,
        height: probed.height,
        orientation: probed.orientation,
        taken_at: probed.takenAt ?? at,
        uploaded_at: at,
        object_prefix: `${user.id}/${id}/`,
      };
      seen.set(item.staged.sha256, row);
      fresh.push({ row, item, derivatives });
      results.push({ ...toDto(row), duplicate: false });
    }

    const written: string[] = [];
    try {
      for (const { row, item, derivatives } of fresh) {
        const original = objectKey(row, 'original');
        written.push(original);
        const options = { size: row.original_bytes, contentType: row.media_type };
        // The staged file is already on disk: a store that can take it as it is (linked, not copied) does.
        if (store.putFile) await store.putFile(original, item.staged.path, options);
        else await store.put(original, createReadStream(item.staged.path), options);
        const bodies: [Variant, Buffer][] = [
          ['thumbnail', derivatives.thumbnail],
          ['preview', derivatives.preview],
        ];
        for (const [variant, body] of bodies) {
          const key = objectKey(row, variant);
          written.push(key);
          await store.put(key, body, { size: body.length, contentType: DERIVATIVE_TYPE });
        }
      }
      const storedTotal = fresh.reduce((sum, { row }) => sum + images.storedBytes(row), 0);
      const received = batch.reduce((sum, item) => sum + item.staged.size, 0);
      const storageQuota = storageQuotaOf(user, quotas);
      const transferQuota = transferQuotaOf(user, quotas);
      const day = utcDay(at);
      await inTransaction(db, async (trx) => {
        if (storedTotal > 0 && !(await reserveStorage(trx, user.id, storedTotal, storageQuota))) {
          const current = await findUserById(trx, user.id);
          throw storageExceeded(storageQuota, current?.storage_used_bytes ?? 0, storedTotal, describe(batch));
        }
        if (!(await reserveTransfer(trx, dialect, user.id, day, 'in', received, transferQuota))) {
          const today = await transferOfDay(trx, user.id, day);
          throw transferExceeded(transferQuota, today.bytesIn + today.bytesOut, received, describe(batch));
        }
        for (const { row } of fresh) await images.insertImage(trx, row);
        const events = fresh.flatMap(({ row }) => objectEvents(row, at, 'upload', 201));
        // Bytes received for a duplicate count as transfer, though nothing new is stored.
        const stored = new Set(fresh.map(({ item }) => item));
        for (const item of batch) {
          if (!stored.has(item)) {
            const dup = seen.get(item.staged.sha256)!;
            events.push({
              at,
              user_id: user.id,
              image_id: dup.id,
              operation: 'upload',
              object_key: objectKey(dup, 'original'),
              bytes: item.staged.size,
              status: 200,
            });
          }
        }
        await appendEvents(trx, events);
      });
    } catch (error) {
      await Promise.allSettled(written.map((key) => store.delete(key)));
      throw error;
    }
    return results;
  }

  /** Deletes an image's row, frees its storage, then its objects; false when the row was gone already. */
  async function removeRow(userId: string, row: images.ImageRow): Promise<boolean> {
    const at = now();
    const deleted = await inTransaction(db, async (trx) => {
      if (!(await images.deleteImageRow(trx, userId, row.id))) return false;
      await releaseStorage(trx, userId, images.storedBytes(row));
      await appendEvents(trx, objectEvents(row, at, 'delete', 204));
      return true;
    });
    if (!deleted) return false;
    // The row is gone first, so nobody can reach the objects; if removing them fails, the sweeper will.
    await Promise.allSettled(
      (['original', 'thumbnail', 'preview'] as const).map((v) => store.delete(objectKey(row, v))),
    );
    return true;
  }

  async function findOrThrow(userId: string, imageId: string): Promise<images.ImageRow> {
    const row = isImageId(imageId) ? await images.findOwnedImage(db, userId, imageId) : undefined;
    if (!row) throw notFound();
    return row;
  }

  return {
    async assertCanUpload(userId) {
      const user = await userOrThrow(userId);
      const storageQuota = storageQuotaOf(user, quotas);
      if (storageQuota > 0 && user.storage_used_bytes >= storageQuota) {
        throw storageExceeded(storageQuota, user.storage_used_bytes, 1, 'this upload');
      }
      const transferQuota = transferQuotaOf(user, quotas);
      if (transferQuota > 0) {
        const today = await transferOfDay(db, userId, utcDay(now()));
        const used = today.bytesIn + today.bytesOut;
        if (used >= transferQuota) throw transferExceeded(transferQuota, used, 1, 'this upload');
      }
    },

    async upload(userId, parts) {
      const user = await userOrThrow(userId);
      const batch: Prepared[] = [];
      try {
        for await (const part of parts) {
          batch.push(await prepare(user.id, part));
          // Fail fast on an obviously full account, before decoding the rest; the transaction decides.
          // Bytes the account already has take no room.
          const quota = storageQuotaOf(user, quotas);
          const pending = batch.reduce((sum, item) => sum + (item.decoded ? item.staged.size : 0), 0);
          if (quota > 0 && user.storage_used_bytes + pending > quota) {
            throw storageExceeded(quota, user.storage_used_bytes, pending, describe(batch));
          }
        }
        if (batch.length === 0) {
          throw new AppError('no_files', 400, 'The upload contained no files. Send images as multipart form data.');
        }
        try {
          return await commit(user, batch);
        } catch (error) {
          // A concurrent upload of the same bytes won the unique key: answer with that image.
          if (isUniqueViolation(error)) return await commit(user, batch);
          throw error;
        }
      } finally {
        await Promise.allSettled(batch.map((item) => removeTempFile(item.staged.path)));
      }
    },

    async list(userId, limit, cursor) {
      const rows = await images.listPage(
        db,
        userId,
        limit + 1,
        cursor === undefined ? undefined : decodeCursor(cursor),
      );
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        items: page.map(toDto),
        nextCursor: rows.length > limit && last ? encodeCursor({ takenAt: last.taken_at, id: last.id }) : null,
      };
    },

    async get(userId, imageId) {
      return toDto(await findOrThrow(userId, imageId));
    },

    async remove(userId, imageId) {
      if (!(await removeRow(userId, await findOrThrow(userId, imageId)))) throw notFound();
    },

    async removeAll(userId) {
      // An image deleted meanwhile (another tab) is simply not counted.
      let removed = 0;
      for (const row of await images.listAllOfOwner(db, userId)) if (await removeRow(userId, row)) removed += 1;
      return removed;
    },

    async describe(userId, imageId, variant) {
      const row = await findOrThrow(userId, imageId);
      return { etag: etag(row, variant), size: variantSize(row, variant), contentType: contentTypeOf(row, variant) };
    },

    async open(userId, imageId, variant, options = {}) {
      const row = await findOrThrow(userId, imageId);
      if (etagMatches(options.ifNoneMatch, etag(row, variant))) return { notModified: true, etag: etag(row, variant) };
      const totalSize = variantSize(row, variant);
      const range = options.range?.(totalSize);
      const length = range ? range.end - range.start + 1 : totalSize;
      const key = objectKey(row, variant);
      // A delete may remove the objects between the lookup above and this read: then it is not found.
      const stream = await store.get(key, range, totalSize).catch((error: unknown) => {
        throw error instanceof ObjectNotFoundError ? notFound() : error;
      });
      const at = now();
      const event: StorageEvent = {
        at,
        user_id: userId,
        image_id: row.id,
        operation: 'download',
        object_key: key,
        bytes: length,
        status: range ? 206 : 200,
      };
      try {
        if (variant === 'thumbnail' && deps.thumbnailEvents) {
          // Free of quota, so nothing waits on the log: it is written in batches.
          deps.thumbnailEvents.add(event);
        } else {
          // Read before the transaction: on SQLite a query outside it would wait for it forever.
          const quota = variant === 'thumbnail' ? 0 : transferQuotaOf(await userOrThrow(userId), quotas);
          await inTransaction(db, async (trx) => {
            if (variant !== 'thumbnail') {
              const day = utcDay(at);
              if (!(await reserveTransfer(trx, dialect, userId, day, 'out', length, quota))) {
                const today = await transferOfDay(trx, userId, day);
                throw transferExceeded(quota, today.bytesIn + today.bytesOut, length, `"${row.filename}"`);
              }
            }
            await appendEvents(trx, [event]);
          });
        }
      } catch (error) {
        stream.destroy();
        throw error;
      }
      return {
        notModified: false,
        stream,
        contentType: contentTypeOf(row, variant),
        length,
        totalSize,
        range,
        etag: etag(row, variant),
        filename: variant === 'original' ? row.filename : `${row.filename.replace(/\.[^.]*$/, '')}-${variant}.webp`,
      };
    },
  };
}

/** Bytes as MB, the unit quotas are set in, or as KB where MB would round a real amount to "0.0 MB". */
const amount = (bytes: number): string =>
  bytes === 0 || bytes >= 51_200 ? mb(bytes) : `${Math.ceil(bytes / 1024)} KB`;

const etag = (row: images.ImageRow, variant: Variant): string =>
  variant === 'original' ? `"${row.sha256}"` : `"${row.id}-${variant}"`;

/** One storage event for each of an image's three objects. */
const objectEvents = (
  row: images.ImageRow,
  at: number,
  operation: 'upload' | 'delete',
  status: number,
): StorageEvent[] =>
  (['original', 'thumbnail', 'preview'] as const).map((variant) => ({
    at,
    user_id: row.owner_id,
    image_id: row.id,
    operation,
    object_key: objectKey(row, variant),
    bytes: variantSize(row, variant),
    status,
  }));

const variantSize = (row: images.ImageRow, variant: Variant): number =>
  variant === 'original' ? row.original_bytes : variant === 'preview' ? row.preview_bytes : row.thumbnail_bytes;

const contentTypeOf = (row: images.ImageRow, variant: Variant): string =>
  variant === 'original' ? row.media_type : DERIVATIVE_TYPE;

function describe(batch: Prepared[]): string {
  return batch.length === 1 ? `"${batch[0]!.filename}"` : `these ${batch.length} files`;
}

function rejectionError(filename: string, error: ImageRejectedError): AppError {
  const { reason, detail } = error.rejection;
  if (reason === 'unsupported') {
    return new AppError(
      'unsupported_media_type',
      415,
      `"${filename}" ${detail}. Pixa accepts JPEG, PNG, WebP, GIF, AVIF and TIFF images.`,
    );
  }
  if (reason === 'too_many_pixels') return new AppError('image_too_large', 413, `"${filename}" ${detail}.`);
  return new AppError('invalid_image', 400, `"${filename}" ${detail}.`);
}

function encodeCursor(cursor: images.PageCursor): string {
  return Buffer.from(`${cursor.takenAt}.${cursor.id}`).toString('base64url');
}

function decodeCursor(raw: string): images.PageCursor {
  const match = /^(-?\d{1,15})\.([0-9a-f-]{36})$/.exec(Buffer.from(raw, 'base64url').toString());
  if (!match)
    throw new AppError('invalid_cursor', 400, 'The page cursor is not valid. Start again from the first page.');
  return { takenAt: Number(match[1]), id: match[2]! };
}
