import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';

import type { Kysely } from 'kysely';

import type { UploadedImage } from '../../api/images.js';
import type { CreatedUpload, CreateUpload, UploadRefusal, UploadStatus } from '../../api/uploads.js';
import type { DialectName } from '../../db/database.js';
import type { Executor } from '../../db/executor.js';
import type { DB } from '../../db/tables.js';
import { inTransaction } from '../../db/transaction.js';
import { AppError, notFound } from '../../lib/app-error.js';
import { mb } from '../../lib/format.js';
import { newId } from '../../lib/ids.js';
import { toIso, utcDay } from '../../lib/time.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { findUserById, holdStorage, releaseHeldStorage } from '../auth/user.repository.js';
import { cleanFilename } from '../images/filename.js';
import { imageDtoMapper } from '../images/image-dto.js';
import { findBySha256 } from '../images/image.repository.js';
import { userOrThrow } from '../images/lookups.js';
import type { MediaUrlSigner } from '../images/media-url.js';
import type { UploadService } from '../images/upload.service.js';
import type { StagingBudget } from '../images/upload-staging.js';
import { storageQuotaOf, transferQuotaOf, type QuotaDefaults } from '../usage/quota.js';
import { storageExceeded, transferExceeded } from '../usage/quota-errors.js';
import { holdTransfer, releaseHeldTransfer, transferOfDay } from '../usage/transfer.repository.js';
import { receivePart, removePartFile } from './part-receiver.js';
import * as repo from './upload.repository.js';

export interface ResumableUploadDeps {
  db: Kysely<DB>;
  dialect: DialectName;
  store: ObjectStore;
  signer: MediaUrlSigner;
  quotas: QuotaDefaults;
  /** The multipart upload's pipeline, which a complete upload goes through as one file. */
  images: Pick<UploadService, 'upload'>;
  tmpDir: string;
  /** The disk uploads in progress may take in `tmpDir` (PIXA_STAGING_MB), shared with multipart uploads. */
  stagingBudget?: StagingBudget;
  maxUploadBytes: number;
  /** How long an upload lives after its last byte (PIXA_UPLOAD_EXPIRY_HOURS). */
  expiryMs: number;
  /** How long a completion may run before another request may take it over (its process died). */
  processingTimeoutMs: number;
  now?: () => number;
}

/** What a PATCH brings: the offset it claims, its bytes, and the SHA-256 (base64) it says they have. */
export interface AppendRequest {
  offset: number;
  body: Readable;
  checksum?: string;
}

/** Resumable uploads (the tus protocol's state, without HTTP): create, append, look, terminate, expire. */
export interface ResumableUploadService {
  /** Holds the quota for `length` bytes, or answers the image the account already has (announced SHA-256). */
  create(userId: string, input: CreateUpload): Promise<CreatedUpload>;
  /** The upload's state; a complete upload whose processing failed for a passing reason is processed again. */
  status(userId: string, id: string): Promise<UploadStatus>;
  /** Stores the bytes at `offset` (the upload's offset), and processes the upload when it is complete. */
  append(userId: string, id: string, request: AppendRequest): Promise<UploadStatus>;
  /** Removes the upload, its bytes and its reservation. */
  terminate(userId: string, id: string): Promise<void>;
  /** The image a finished upload became; its refusal as the error; 409 while it is not finished. */
  result(userId: string, id: string): Promise<UploadedImage>;
  /** Which of these SHA-256 hashes the account's own images have. */
  knownHashes(userId: string, hashes: string[]): Promise<string[]>;
  /** Removes expired uploads (their parts and reservations) and parts no upload refers to; returns how many. */
  sweepExpired(partSafetyWindowMs: number): Promise<number>;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
/** Parts of uploads live under this prefix, beside (never inside) the images' own keys. */
const PART_PREFIX = 'uploads/';

export function createResumableUploadService(deps: ResumableUploadDeps): ResumableUploadService {
  const { db, dialect, store, quotas, tmpDir } = deps;
  const now = deps.now ?? Date.now;
  const toDto = imageDtoMapper(deps.signer);

  async function ownUpload(userId: string, id: string): Promise<repo.UploadRow> {
    const row = await repo.findUpload(db, userId, id);
    if (!row) throw notFound('Upload');
    if (row.expires_at < now() && row.state !== 'processing') {
      await expire(row.id);
      throw new AppError('upload_expired', 410, 'This upload expired before it was finished. Start it again.');
    }
    return row;
  }

  function statusOf(row: repo.UploadRow): UploadStatus {
    const status: UploadStatus = {
      id: row.id,
      length: row.length,
      offset: row.received_bytes,
      filename: row.filename,
      state: row.state,
      expiresAt: toIso(row.expires_at),
    };
    if (row.sha256) status.sha256 = row.sha256;
    if (row.state === 'done' && row.result) status.imageId = (JSON.parse(row.result) as UploadedImage).id;
    if (row.state === 'refused' && row.result) status.refusal = JSON.parse(row.result) as UploadRefusal;
    return status;
  }

  /** Gives back what the upload (as read in `row`) holds, once, inside the caller's transaction. */
  async function releaseHolds(trx: Executor, row: repo.UploadRow): Promise<void> {
    if (!(await repo.clearReservation(trx, row))) return;
    await giveBack(trx, row);
  }

  async function giveBack(trx: Executor, row: repo.UploadRow): Promise<void> {
    await releaseHeldStorage(trx, row.owner_id, row.reserved_storage);
    await releaseHeldTransfer(trx, row.owner_id, row.reserved_day, row.reserved_transfer);
  }

  async function removeParts(parts: repo.UploadPartRow[]): Promise<void> {
    await Promise.allSettled(parts.map((part) => store.delete(part.object_key)));
  }

  /** Ends an upload for good: its row (with what it held) in one transaction, then its bytes. */
  async function discard(id: string, onlyIfExpired: boolean): Promise<boolean> {
    const row = await repo.findUploadById(db, id);
    if (!row) return false;
    const parts = await repo.listParts(db, id);
    // Removed only as read: one request on one replica removes it and gives back what it held.
    const removed = await inTransaction(db, async (trx) => {
      if (!(await repo.deleteUpload(trx, row, onlyIfExpired ? now() : undefined))) return false;
      await giveBack(trx, row);
      return true;
    });
    if (removed) await removeParts(parts);
    return removed;
  }

  const expire = (id: string) => discard(id, true);

  /** Runs a complete upload through the multipart pipeline once; other requests see it processing. */
  async function complete(row: repo.UploadRow): Promise<repo.UploadRow> {
    const at = now();
    if (!(await repo.claimCompletion(db, row.id, at, at - deps.processingTimeoutMs))) {
      return (await repo.findUpload(db, row.owner_id, row.id)) ?? row;
    }
    const parts = await repo.listParts(db, row.id);
    let outcome: { state: 'open' | 'done' | 'refused'; result: string | null };
    try {
      const file = { filename: row.filename, stream: joined(row, parts) };
      const [image] = await deps.images.upload(
        row.owner_id,
        (async function* () {
          yield file;
        })(),
        {
          inCommit: (trx) => releaseHolds(trx, row),
          held: { storage: row.reserved_storage, transfer: row.reserved_transfer, day: row.reserved_day },
        },
      );
      outcome = { state: 'done', result: JSON.stringify(image) };
    } catch (error) {
      const status = (error as { statusCode?: unknown }).statusCode;
      if (!(error instanceof AppError) || typeof status !== 'number' || status >= 500) {
        // Not the file's fault (the database, the store, a full disk): it stays complete and open,
        // and the next look at it processes it again.
        await repo.setOutcome(db, row.id, { state: 'open', result: null, at: now() });
        throw error;
      }
      await inTransaction(db, (trx) => releaseHolds(trx, row));
      const refusal: UploadRefusal = { status, code: error.code, message: error.message };
      outcome = { state: 'refused', result: JSON.stringify(refusal) };
    }
    await repo.setOutcome(db, row.id, { ...outcome, at: now() });
    await inTransaction(db, (trx) => repo.deleteParts(trx, row.id));
    await removeParts(parts);
    return (await repo.findUpload(db, row.owner_id, row.id)) ?? row;
  }

  /** The parts read one after the other, checked against the SHA-256 the client announced. */
  function joined(row: repo.UploadRow, parts: repo.UploadPartRow[]): Readable {
    async function* bytes() {
      for (const part of parts) yield* (await store.get(part.object_key)) as AsyncIterable<Buffer>;
    }
    const stream = Readable.from(bytes());
    if (!row.sha256) return stream;
    const hash = createHash('sha256');
    const announced = row.sha256;
    const check = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        callback(null, chunk);
      },
      flush(callback) {
        const actual = hash.digest('hex');
        callback(
          actual === announced
            ? null
            : new AppError(
                'checksum_mismatch',
                400,
                `"${row.filename}" arrived with SHA-256 ${actual}, not the ${announced} announced at its creation. Upload it again.`,
              ),
        );
      },
    });
    stream.on('error', (error) => check.destroy(error));
    return stream.pipe(check);
  }

  return {
    async create(userId, input) {
      const user = await userOrThrow(db, userId);
      const filename = cleanFilename(input.filename);
      const sha256 = input.sha256?.toLowerCase();
      if (sha256 !== undefined && !SHA256_HEX.test(sha256)) {
        throw new AppError('invalid_metadata', 400, 'The sha256 in Upload-Metadata must be 64 hexadecimal digits.');
      }
      if (sha256) {
        const existing = await findBySha256(db, userId, sha256);
        if (existing) return { existing: { ...toDto(existing), duplicate: true } };
      }
      const { length } = input;
      if (length === 0) throw new AppError('invalid_image', 400, `"${filename}" is empty.`);
      if (length > deps.maxUploadBytes) {
        throw new AppError(
          'file_too_large',
          413,
          `"${filename}" is larger than the ${mb(deps.maxUploadBytes)} limit per file.`,
        );
      }
      const at = now();
      const day = utcDay(at);
      const row: repo.UploadRow = {
        id: newId(),
        owner_id: userId,
        filename,
        sha256: sha256 ?? null,
        length,
        received_bytes: 0,
        reserved_storage: length,
        reserved_transfer: length,
        reserved_day: day,
        state: 'open',
        result: null,
        created_at: at,
        updated_at: at,
        expires_at: at + deps.expiryMs,
      };
      const storageQuota = storageQuotaOf(user, quotas);
      const transferQuota = transferQuotaOf(user, quotas);
      await inTransaction(db, async (trx) => {
        if (!(await holdStorage(trx, userId, length, storageQuota))) {
          const current = (await findUserById(trx, userId)) ?? user;
          const held = current.storage_used_bytes + current.storage_reserved_bytes;
          const refusal = storageExceeded(storageQuota, held, length, `"${filename}"`);
          // Before any byte: the upload is too large for the room left, as a body over a limit is.
          throw new AppError(refusal.code, 413, refusal.message);
        }
        if (!(await holdTransfer(trx, dialect, userId, day, length, transferQuota))) {
          const today = await transferOfDay(trx, userId, day);
          const used = today.bytesIn + today.bytesOut + today.bytesReserved;
          throw transferExceeded(at, transferQuota, used, length, `"${filename}"`);
        }
        await repo.insertUpload(trx, row);
      });
      return { upload: statusOf(row) };
    },

    async status(userId, id) {
      let row = await ownUpload(userId, id);
      if (row.state !== 'done' && row.state !== 'refused' && row.received_bytes === row.length) {
        row = await complete(row);
      }
      return statusOf(row);
    },

    async append(userId, id, request) {
      const row = await ownUpload(userId, id);
      if (row.state !== 'open' || request.offset !== row.received_bytes) {
        request.body.resume();
        throw new AppError(
          'offset_mismatch',
          409,
          row.state === 'open'
            ? `This upload is at byte ${row.received_bytes}, not ${request.offset}: ask for the offset with HEAD and send from there.`
            : 'This upload has all its bytes already.',
        );
      }
      const part = await receivePart(request.body, tmpDir, row.length - row.received_bytes, deps.stagingBudget);
      try {
        if (request.checksum !== undefined && part.sha256 !== request.checksum) {
          // A cut body cannot be checked: nothing of it is kept, and the client sends it again.
          if (part.interrupted) throw part.interrupted;
          throw new AppError(
            'checksum_mismatch',
            460,
            'The bytes that arrived do not match the Upload-Checksum sent with them; nothing was kept. Send them again.',
          );
        }
        if (part.size > 0) {
          const key = `${PART_PREFIX}${row.id}/${newId()}`;
          if (store.putFile) await store.putFile(key, part.file, { size: part.size });
          else await store.put(key, createReadStream(part.file), { size: part.size });
          const at = now();
          const partRow = { upload_id: row.id, start: row.received_bytes, bytes: part.size, object_key: key };
          const appended = await inTransaction(db, (trx) => repo.appendPart(trx, partRow, at, at + deps.expiryMs));
          if (!appended) {
            await store.delete(key).catch(() => undefined);
            throw new AppError('offset_mismatch', 409, 'Another request sent bytes to this upload at the same time.');
          }
        }
      } finally {
        await removePartFile(part);
      }
      if (part.interrupted) throw part.interrupted;
      const current = (await repo.findUpload(db, userId, id)) ?? row;
      return statusOf(current.received_bytes === current.length ? await complete(current) : current);
    },

    async terminate(userId, id) {
      const row = await repo.findUpload(db, userId, id);
      if (!row) throw notFound('Upload');
      if (row.state === 'processing') {
        throw new AppError('upload_processing', 409, 'This upload is being processed; it can no longer be stopped.');
      }
      await discard(id, false);
    },

    async result(userId, id) {
      const status = await this.status(userId, id);
      if (status.refusal) throw new AppError(status.refusal.code, status.refusal.status, status.refusal.message);
      if (status.state !== 'done') {
        throw new AppError(
          'upload_incomplete',
          409,
          status.state === 'processing'
            ? 'This upload is being processed. Ask again in a moment.'
            : `This upload has ${status.offset} of its ${status.length} bytes. Send the rest first.`,
        );
      }
      const row = await repo.findUpload(db, userId, id);
      return JSON.parse(row!.result!) as UploadedImage;
    },

    async knownHashes(userId, hashes) {
      const wanted = [...new Set(hashes.map((hash) => hash.toLowerCase()))];
      return wanted.length === 0 ? [] : repo.knownHashes(db, userId, wanted);
    },

    async sweepExpired(partSafetyWindowMs) {
      let removed = 0;
      for (;;) {
        const ids = await repo.expiredUploadIds(db, now(), 100);
        let progress = false;
        for (const id of ids) {
          if (await expire(id)) {
            removed++;
            progress = true;
          }
        }
        if (ids.length < 100 || !progress) break;
      }
      // Parts stored by a request that died before recording them, or whose removal failed.
      const cutoff = Date.now() - partSafetyWindowMs;
      for await (const object of store.list(PART_PREFIX)) {
        const uploadId = object.key.slice(PART_PREFIX.length).split('/')[0] ?? '';
        if (object.modifiedAt > cutoff || (await repo.uploadExists(db, uploadId))) continue;
        await store.delete(object.key);
        removed++;
      }
      return removed;
    },
  };
}
