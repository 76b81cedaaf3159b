import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';

import type { UploadedImage } from '../../api/images.js';
import { isUniqueViolation } from '../../db/database.js';
import type { Executor } from '../../db/executor.js';
import { inTransaction } from '../../db/transaction.js';
import {
  DERIVATIVE_TYPE,
  ImageRejectedError,
  makeDerivatives,
  probeImage,
  type Derivatives,
  type ProbedImage,
} from '../../image/image-processor.js';
import { derivativesFromFrame, isUniformFrame, posterWithinBudget } from '../../image/video-frame.js';
import { AppError } from '../../lib/app-error.js';
import { mb } from '../../lib/format.js';
import { ToolRunError } from '../../video/ffmpeg-runner.js';
import { posterFrame } from '../../video/video-convert.js';
import { probeVideo, sniffVideoType, VideoRejectedError, type ProbedVideo } from '../../video/video-probe.js';
import { enqueueJob } from '../jobs/job.repository.js';
import { newId } from '../../lib/ids.js';
import { utcDay } from '../../lib/time.js';
import { findUserById, reserveStorage, type UserRow } from '../auth/user.repository.js';
import { storageQuotaOf, transferQuotaOf } from '../usage/quota.js';
import { storageExceeded, transferExceeded } from '../usage/quota-errors.js';
import { appendEvents } from '../usage/storage-event.repository.js';
import { chargeRefusedUpload } from '../usage/transfer-charge.js';
import { reserveTransfer, transferOfDay } from '../usage/transfer.repository.js';
import { cleanFilename } from './filename.js';
import { imageDtoMapper } from './image-dto.js';
import { objectEvents, objectKey } from './image-objects.js';
import * as images from './image.repository.js';
import type { ImageServiceDeps } from './image-service-deps.js';
import { userOrThrow } from './lookups.js';
import { isOutOfSpace } from './out-of-space.js';
import { UPLOAD_PROCESSING_GRACE_MS } from './sweeper.js';
import { commitOutcomeUnknown, outOfSpace, tooManyUploads, uploadTooSlow } from './upload-errors.js';
import { createStagingBudget, removeTempFile, stageToTempFile, type StagedFile } from './upload-staging.js';

/** One file of an upload request, as the HTTP layer hands it over. */
export interface UploadPart {
  filename: string | undefined;
  stream: Readable;
}

/** What a caller adds to an upload's commit. */
export interface UploadOptions {
  /**
   * Runs inside the commit's transaction before the quotas are charged (a resumable upload gives back
   * what it held there, so its own reservation makes room for its real charge). Not run when the
   * upload is refused before its commit.
   */
  inCommit?: (trx: Executor) => Promise<void>;
  /**
   * What this upload itself holds of the quotas (a resumable upload's reservation, made on `day`):
   * the early checks count every other upload's holds against the room left, not this one's.
   */
  held?: { storage: number; transfer: number; day: string };
}

export interface UploadService {
  /** Throws 429 at once when the account has no room left, before any bytes are read. */
  assertCanUpload(userId: string): Promise<void>;
  /** Stages, checks and decodes every file, then stores them all with their quota charges in one commit. */
  upload(userId: string, parts: AsyncIterable<UploadPart>, options?: UploadOptions): Promise<UploadedImage[]>;
}

interface Prepared {
  staged: StagedFile;
  filename: string;
  /** Undefined for bytes the account already has: nothing new to decode or store. */
  decoded?: Decoded;
}

interface Decoded {
  probed: ProbedImage;
  derivatives: Derivatives;
  /** Set for a video: what ffprobe read. */
  video?: ProbedVideo;
}

/** The kind of job that makes a video's playback copy; its payload is `{ imageId }`. */
export const PLAYBACK_JOB = 'video.playback';
/** Codecs every current browser plays from the original; any other gets a playback copy in the background. */
const PLAYS_EVERYWHERE: ReadonlySet<string> = new Set(['h264']);

/** One account's uploads in this process: how many run, the bytes they received, who waits for a turn. */
interface AccountUploads {
  running: number;
  received: number;
  waiting: (() => void)[];
}

/** Defaults when the composition root does not say: see PIXA_STAGING_MB and PIXA_UPLOADS_PER_ACCOUNT. */
export const DEFAULT_STAGING_BYTES = 1024 * 1024 * 1024;
export const DEFAULT_UPLOADS_PER_ACCOUNT = 4;
/** How long an account's upload waits for one of its others to finish before it is refused. */
const TURN_WAIT_MS = 60_000;

/**
 * The upload pipeline: stream each file to staging while hashing it, decode and make derivatives,
 * write the objects, then record rows, storage and transfer in one transaction. Any failure removes
 * what it wrote.
 */
export function createUploadService(deps: ImageServiceDeps): UploadService {
  const { db, dialect, store, quotas, maxPixels, tmpDir } = deps;
  const now = deps.now ?? Date.now;
  const toDto = imageDtoMapper(deps.signer);
  const budget = deps.stagingBudget ?? createStagingBudget(DEFAULT_STAGING_BYTES);
  const perAccount = deps.uploadsPerAccount ?? DEFAULT_UPLOADS_PER_ACCOUNT;
  const accounts = new Map<string, AccountUploads>();

  /**
   * Waits for the account's turn: at most `perAccount` of its uploads run in this process, the others
   * wait unread (the client's bytes stay in its socket, not on our disk), and are refused after a while.
   */
  async function takeTurn(userId: string): Promise<AccountUploads> {
    let account = accounts.get(userId);
    if (!account) {
      account = { running: 0, received: 0, waiting: [] };
      accounts.set(userId, account);
    }
    if (perAccount > 0 && account.running >= perAccount) {
      const mine = account;
      const turn = await new Promise<boolean>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          resolve(true);
        };
        const timer = setTimeout(() => {
          mine.waiting = mine.waiting.filter((w) => w !== wake);
          resolve(false);
        }, TURN_WAIT_MS);
        timer.unref();
        mine.waiting.push(wake);
      });
      if (!turn) {
        if (mine.running === 0 && mine.waiting.length === 0) accounts.delete(userId);
        throw tooManyUploads(perAccount);
      }
    }
    account.running += 1;
    return account;
  }

  function endTurn(userId: string, account: AccountUploads): void {
    account.running -= 1;
    const next = account.waiting.shift();
    if (next) next();
    else if (account.running === 0) accounts.delete(userId);
  }

  /** Stages one file and, unless the account has these bytes already, checks and decodes it. */
  async function prepare(userId: string, part: UploadPart, onChunk: (bytes: number) => void): Promise<Prepared> {
    const filename = cleanFilename(part.filename);
    const staged = await stageToTempFile(part.stream, tmpDir, { budget, onChunk });
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
    const videoType = await sniffVideoType(staged.path);
    if (videoType) return decodeVideo(staged, filename, videoType);
    // The size limit while the bytes arrived was a video's when the first bytes looked like one.
    if (deps.maxPhotoBytes && staged.size > deps.maxPhotoBytes) {
      throw new AppError(
        'file_too_large',
        413,
        `"${filename}" is larger than the ${mb(deps.maxPhotoBytes)} limit per file.`,
      );
    }
    try {
      return {
        probed: await probeImage(staged.path, maxPixels),
        derivatives: await makeDerivatives(staged.path, maxPixels),
      };
    } catch (error) {
      throw error instanceof ImageRejectedError ? rejectionError(filename, error) : error;
    }
  }

  /** Probes a staged video and makes its thumbnail and preview from a poster frame; nothing is transcoded here. */
  async function decodeVideo(staged: StagedFile, filename: string, mediaType: string): Promise<Decoded> {
    try {
      const video = await probeVideo(staged.path, mediaType);
      const derivatives = await posterWithinBudget(video.width, video.height, async () =>
        derivativesFromFrame(await posterFrame(staged.path, video.durationMs, isUniformFrame)),
      );
      return {
        probed: { mediaType, width: video.width, height: video.height, orientation: 1, takenAt: video.takenAt },
        derivatives,
        video,
      };
    } catch (error) {
      if (error instanceof VideoRejectedError) throw videoRejectionError(filename, error);
      if (error instanceof ImageRejectedError)
        throw new AppError('video_too_large', 413, `"${filename}" ${error.message}.`);
      if (error instanceof ToolRunError) {
        throw new AppError(
          'invalid_video',
          400,
          `"${filename}" is damaged or incomplete: no frame of it can be decoded.`,
        );
      }
      throw error;
    }
  }

  /**
   * Writes the objects of new images, then records them all in one transaction with the quotas.
   * `deadline` (epoch ms): past it the objects might already look abandoned to the sweeper, so the
   * upload gives up rather than commit.
   */
  async function commit(
    user: UserRow,
    batch: Prepared[],
    deadline: number,
    options: UploadOptions,
  ): Promise<UploadedImage[]> {
    const results: UploadedImage[] = [];
    const fresh: { row: images.ImageRow; item: Prepared; derivatives: Derivatives }[] = [];
    const seen = new Map<string, images.ImageRow>();
    // Bytes the account has in the trash: the upload brings that photo back instead of storing it twice.
    const restoring = new Set<string>();
    const at = now();
    for (const item of batch) {
      const existing = seen.get(item.staged.sha256) ?? (await images.findBySha256(db, user.id, item.staged.sha256));
      if (existing) {
        seen.set(item.staged.sha256, existing);
        if (existing.trashed_at !== null) restoring.add(existing.id);
        results.push({ ...toDto({ ...existing, trashed_at: null }), duplicate: true });
        continue;
      }
      // Known when staged, deleted since: decode it now after all.
      const { probed, derivatives, video } = item.decoded ?? (await decode(item.staged, item.filename));
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
        favorite: 0,
        trashed_at: null,
        kind: video ? 'video' : 'photo',
        duration_ms: video ? video.durationMs : null,
        playback_type: video ? video.playbackType : null,
        playback_state: video ? (PLAYS_EVERYWHERE.has(video.codec) ? 'original' : 'preparing') : null,
        playback_bytes: 0,
      };
      seen.set(item.staged.sha256, row);
      fresh.push({ row, item, derivatives });
      results.push({ ...toDto(row), duplicate: false });
    }

    const written: string[] = [];
    /** Set once the transaction's work is done: an error from here on came from COMMIT itself. */
    let committing = false;
    try {
      for (const { row, item, derivatives } of fresh) {
        const original = objectKey(row, 'original');
        written.push(original);
        const options = { size: row.original_bytes, contentType: row.media_type };
        // The staged file is already on disk: a store that can take it as it is (linked, not copied) does.
        if (store.putFile) await store.putFile(original, item.staged.path, options);
        else await store.put(original, createReadStream(item.staged.path), options);
        const bodies: ['thumbnail' | 'preview', Buffer][] = [
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
      if (Date.now() > deadline) throw uploadTooSlow();
      await inTransaction(db, async (trx) => {
        committing = false;
        await options.inCommit?.(trx);
        if (storedTotal > 0 && !(await reserveStorage(trx, user.id, storedTotal, storageQuota))) {
          const current = await findUserById(trx, user.id);
          throw storageExceeded(storageQuota, current?.storage_used_bytes ?? 0, storedTotal, describe(batch));
        }
        if (!(await reserveTransfer(trx, dialect, user.id, day, 'in', received, transferQuota))) {
          const today = await transferOfDay(trx, user.id, day);
          throw transferExceeded(at, transferQuota, today.bytesIn + today.bytesOut, received, describe(batch));
        }
        for (const { row } of fresh) {
          await images.insertImage(trx, row);
          // In the same transaction: the job exists exactly when its video does, and survives restarts.
          if (row.playback_state === 'preparing') await enqueueJob(trx, PLAYBACK_JOB, { imageId: row.id }, at);
        }
        await images.restoreImages(trx, user.id, [...restoring]);
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
        committing = true;
      });
    } catch (error) {
      // A connection lost at COMMIT on a database server: the COMMIT may have reached it, so the row
      // may exist. Its objects stay; the sweeper removes them if it does not. Everything before the
      // COMMIT (a refusal, a unique key, a failed statement) rolled back, and SQLite answers in process.
      if (committing && dialect !== 'sqlite' && !(error instanceof AppError)) throw commitOutcomeUnknown(error);
      await Promise.allSettled(written.map((key) => store.delete(key)));
      throw isOutOfSpace(error) ? outOfSpace(error) : error;
    }
    if (fresh.some(({ row }) => row.playback_state === 'preparing')) deps.onJobQueued?.();
    return results;
  }

  /**
   * Charges `bytes` received by an upload refused with `status`. The refusal's answer never depends on
   * it: when the database cannot take the charge, the failure is reported and the refusal goes on.
   */
  async function chargeRefusal(userId: string, bytes: number, status: number): Promise<void> {
    // No image has these bytes: the event names the original an image would have had, which was never written.
    const event = {
      at: now(),
      user_id: userId,
      image_id: null,
      operation: 'upload' as const,
      object_key: `${userId}/${newId()}/original`,
      bytes,
      status,
    };
    try {
      await chargeRefusedUpload(db, dialect, event);
    } catch (error) {
      deps.onUsageError?.(error, event);
    }
  }

  return {
    async assertCanUpload(userId) {
      const user = await userOrThrow(db, userId);
      // Bytes held for resumable uploads in progress are taken, as the commit counts them.
      const storageQuota = storageQuotaOf(user, quotas);
      const stored = user.storage_used_bytes + user.storage_reserved_bytes;
      if (storageQuota > 0 && stored >= storageQuota) {
        throw storageExceeded(storageQuota, stored, 1, 'this upload');
      }
      const transferQuota = transferQuotaOf(user, quotas);
      if (transferQuota > 0) {
        const at = now();
        const today = await transferOfDay(db, userId, utcDay(at));
        const used = today.bytesIn + today.bytesOut + today.bytesReserved;
        if (used >= transferQuota) throw transferExceeded(at, transferQuota, used, 1, 'this upload');
      }
    },

    async upload(userId, parts, options = {}) {
      // Wall-clock time, as object times are: the deadline protects the objects from the sweeper.
      const deadline = Date.now() + (deps.requestTimeoutMs ?? 86_400_000) + UPLOAD_PROCESSING_GRACE_MS;
      const user = await userOrThrow(db, userId);
      const account = await takeTurn(user.id);
      const batch: Prepared[] = [];
      let received = 0;
      // The daily transfer quota, enforced as the bytes arrive: what this account's uploads in this
      // process have received so far counts before anything is committed. A chunk is received once
      // read, so the one that crosses the quota counts too, though the upload stops there.
      const transferQuota = transferQuotaOf(user, quotas);
      let usedToday = 0;
      const onChunk = (bytes: number) => {
        account.received += bytes;
        received += bytes;
        if (transferQuota > 0 && usedToday + account.received > transferQuota) {
          throw transferExceeded(now(), transferQuota, usedToday + account.received - bytes, received, 'this upload');
        }
      };
      try {
        const held = options.held;
        if (transferQuota > 0) {
          const day = utcDay(now());
          const today = await transferOfDay(db, user.id, day);
          const heldToday = held?.day === day ? held.transfer : 0;
          usedToday = today.bytesIn + today.bytesOut + Math.max(0, today.bytesReserved - heldToday);
        }
        // What the account stores, and holds for other uploads in progress.
        const stored = user.storage_used_bytes + Math.max(0, user.storage_reserved_bytes - (held?.storage ?? 0));
        for await (const part of parts) {
          batch.push(await prepare(user.id, part, onChunk));
          // Fail fast on an obviously full account, before decoding the rest; the transaction decides.
          // Bytes the account already has take no room.
          const quota = storageQuotaOf(user, quotas);
          const pending = batch.reduce((sum, item) => sum + (item.decoded ? item.staged.size : 0), 0);
          if (quota > 0 && stored + pending > quota) {
            throw storageExceeded(quota, stored, pending, describe(batch));
          }
        }
        if (batch.length === 0) {
          throw new AppError('no_files', 400, 'The upload contained no files. Send images as multipart form data.');
        }
        try {
          return await commit(user, batch, deadline, options);
        } catch (error) {
          // A concurrent upload of the same bytes won the unique key: answer with that image.
          if (isUniqueViolation(error)) return await commit(user, batch, deadline, options);
          throw error;
        }
      } catch (error) {
        // A refused upload is not free: the bytes it sent before the refusal count as the day's transfer.
        const status = refusalStatus(error);
        if (received > 0 && status !== undefined) await chargeRefusal(user.id, received, status);
        throw error;
      } finally {
        await Promise.allSettled(batch.map((item) => removeTempFile(item.staged.path)));
        account.received -= received;
        endTurn(user.id, account);
      }
    },
  };
}

function describe(batch: Prepared[]): string {
  return batch.length === 1 ? `"${batch[0]!.filename}"` : `these ${batch.length} files`;
}

/**
 * The status of a refusal whose received bytes are charged: the client's (4xx), as an image that is
 * not one, a file over the limit, a quota, a malformed or interrupted body. The server's failures
 * (5xx: staging full, out of space, a database error, a commit of unknown outcome) charge nothing.
 */
function refusalStatus(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}

function rejectionError(filename: string, error: ImageRejectedError): AppError {
  const { reason, detail } = error.rejection;
  if (reason === 'unsupported') {
    return new AppError(
      'unsupported_media_type',
      415,
      `"${filename}" ${detail}. Pixa accepts JPEG, PNG, WebP, GIF, AVIF, HEIC/HEIF and TIFF images, and MP4, MOV and WebM videos.`,
    );
  }
  if (reason === 'too_many_pixels') return new AppError('image_too_large', 413, `"${filename}" ${detail}.`);
  return new AppError('invalid_image', 400, `"${filename}" ${detail}.`);
}

function videoRejectionError(filename: string, error: VideoRejectedError): AppError {
  const { reason, detail } = error.rejection;
  switch (reason) {
    case 'no_tools':
      return new AppError('videos_unavailable', 415, `"${filename}" ${detail}.`);
    case 'unsupported':
      return new AppError('unsupported_media_type', 415, `"${filename}" ${detail}.`);
    case 'too_large':
      return new AppError('video_too_large', 413, `"${filename}" ${detail}.`);
    case 'invalid':
      return new AppError('invalid_video', 400, `"${filename}" ${detail}.`);
  }
}
