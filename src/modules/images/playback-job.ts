import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

import type { Kysely } from 'kysely';

import type { DB } from '../../db/tables.js';
import { inTransaction } from '../../db/transaction.js';
import { newId } from '../../lib/ids.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { transcodeForPlayback } from '../../video/video-convert.js';
import { reserveStorage } from '../auth/user.repository.js';
import type { JobHandler } from '../jobs/job-worker.js';
import { appendEvents } from '../usage/storage-event.repository.js';
import { objectKey, PLAYBACK_TYPE } from './image-objects.js';
import { findImageById, markPlaybackFailed, markPlaybackReady } from './image.repository.js';

export interface PlaybackJobDeps {
  db: Kysely<DB>;
  store: ObjectStore;
  /** Where the original is copied to and the copy is written (the staging directory). */
  tmpDir: string;
  now?: () => number;
}

/**
 * The background job that makes a video's playback copy (H.264/AAC MP4, at most 1080p, faststart).
 * Idempotent: a video whose copy is recorded, failed or deleted is left alone, and two workers that
 * both made the copy (one lost its lease) record it once. The copy counts toward the owner's storage,
 * recorded with its storage event in the transaction that marks it ready; it is added even past the
 * quota (the upload was accepted), and freed with the video.
 */
export function createPlaybackJob(deps: PlaybackJobDeps): JobHandler {
  const { db, store, tmpDir } = deps;
  const now = deps.now ?? Date.now;

  return {
    async run(payload, signal) {
      const { imageId } = payload as { imageId: string };
      const row = await findImageById(db, imageId);
      if (!row || row.playback_state !== 'preparing') return;
      await mkdir(tmpDir, { recursive: true });
      // Named like staging files (`<pid>.<id>.upload`), so the staging cleanup removes a dead worker's leftovers.
      const base = path.join(tmpDir, `${process.pid}.${newId()}`);
      const input = `${base}.playback-in.upload`;
      const output = `${base}.playback-out.upload`;
      try {
        await pipeline(
          await store.get(objectKey(row, 'original'), undefined, row.original_bytes),
          createWriteStream(input),
        );
        await transcodeForPlayback(input, output, signal);
        const { size } = await stat(output);
        const key = objectKey(row, 'playback');
        const options = { size, contentType: PLAYBACK_TYPE };
        if (store.putFile) await store.putFile(key, output, options);
        else await store.put(key, createReadStream(output), options);
        const at = now();
        const recorded = await inTransaction(db, async (trx) => {
          if (!(await markPlaybackReady(trx, row.id, size))) return false;
          await reserveStorage(trx, row.owner_id, size, 0);
          await appendEvents(trx, [
            {
              at,
              user_id: row.owner_id,
              image_id: row.id,
              operation: 'upload',
              object_key: key,
              bytes: size,
              status: 201,
            },
          ]);
          return true;
        });
        if (!recorded) {
          // Deleted meanwhile: the copy goes too. Recorded by another worker: it is that copy, keep it.
          const current = await findImageById(db, row.id);
          if (current?.playback_state !== 'ready') await store.delete(key).catch(() => undefined);
        }
      } finally {
        await Promise.allSettled([rm(input, { force: true }), rm(output, { force: true })]);
      }
    },

    async onDead(payload) {
      await markPlaybackFailed(db, (payload as { imageId: string }).imageId);
    },
  };
}
