import { PassThrough, type Readable } from 'node:stream';

import type { MultipartFile } from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';

import { AppError } from '../lib/app-error.js';
import { mb } from '../lib/format.js';
import type { UploadPart } from '../modules/images/image.service.js';
import { looksLikeVideo } from '../video/video-probe.js';

/** Per-file size limits: a video's (PIXA_MAX_VIDEO_MB) applies when the file's first bytes are a video container's. */
export interface UploadLimits {
  photoBytes: number;
  videoBytes: number;
}

/** The limits from the configuration, and the largest, which the multipart parser itself enforces. */
export const uploadLimits = (config: { maxUploadBytes: number; maxVideoBytes: number }): UploadLimits => ({
  photoBytes: config.maxUploadBytes,
  videoBytes: config.maxVideoBytes,
});
export const largestUpload = (limits: UploadLimits): number => Math.max(limits.photoBytes, limits.videoBytes);

/** Enough of a file's start to tell a video container (an ISO-BMFF brand, an EBML header). */
const HEAD_BYTES = 12;

/** RFC 2046 caps a boundary at 70 characters; the parser breaks on longer ones. */
const MAX_BOUNDARY = 70;

const malformed = (): AppError =>
  new AppError('invalid_multipart', 400, 'The multipart body is malformed or incomplete. Send the upload again.');

/**
 * The file parts of a multipart request, streamed. Whatever goes wrong in the body is the client's
 * doing and is answered as such: a too-large file is named with the limit, a malformed or cut-off
 * body is a 400, and a client that goes away ends the part being read, so nothing waits for bytes
 * that will never come (and its temp file is removed).
 */
export async function* fileParts(request: FastifyRequest, limits: UploadLimits): AsyncIterable<UploadPart> {
  const boundary = /boundary="?([^";]*)"?/i.exec(request.headers['content-type'] ?? '')?.[1];
  if (!boundary || boundary.length > MAX_BOUNDARY) throw malformed();

  let current: Readable | undefined;
  const onClose = () => {
    if (!request.raw.complete) current?.destroy(new AppError('upload_aborted', 400, 'The upload was interrupted.'));
  };
  request.raw.once('close', onClose);
  const bodyRead = request.raw.readableEnded
    ? Promise.resolve()
    : new Promise<void>((resolve) => request.raw.once('end', () => resolve()));
  try {
    for await (const part of request.parts()) {
      if (part.type !== 'file') continue;
      current = guarded(part, limits, bodyRead);
      yield { filename: multipartFilename(part.filename), stream: current };
    }
  } catch (error) {
    throw clientError(error);
  } finally {
    request.raw.off('close', onClose);
  }
}

/**
 * How long a part may stay open once the whole body has been read. The parser hands each part's bytes
 * over as they arrive, so what is left then drains at once; a part cut off by the end of the body (no
 * closing boundary) is neither ended nor failed by the parser and would wait forever.
 */
const PARSER_GRACE_MS = 3000;

/** Errors of the parser itself carry no code: they all mean a body we cannot read. */
function clientError(error: unknown): unknown {
  if (error instanceof AppError) return error;
  if (typeof (error as { code?: unknown })?.code === 'string' && (error as { code: string }).code.startsWith('FST_')) {
    return error;
  }
  return error instanceof Error && !(error as { statusCode?: number }).statusCode ? malformed() : error;
}

/**
 * Browsers (and fetch) send a `"` in a multipart filename as `%22`, per the HTML form encoding, and
 * busboy leaves it escaped. Undo that one escape so that `my "best" photo.jpg` keeps its name.
 */
const multipartFilename = (name: string | undefined): string | undefined => name?.replace(/%22/g, '"');

/**
 * The part's bytes with its errors made into client errors. Busboy only marks an oversized file
 * truncated and ends it; the stream fails instead, so staging stops at the limit and the error names
 * the file.
 */
function guarded(part: MultipartFile, limits: UploadLimits, bodyRead: Promise<void>): PassThrough {
  // The file's limit is known once its first bytes are: a video's or a photo's.
  let head = Buffer.alloc(0);
  let limit: number | undefined;
  let count = 0;
  const tooLarge = () => {
    const name = part.filename || 'The file';
    const max = limit ?? largestUpload(limits);
    const what = limit === limits.videoBytes && limits.videoBytes !== limits.photoBytes ? ' per video' : ' per file';
    return new AppError('file_too_large', 413, `"${name}" is larger than the ${mb(max)} limit${what}.`);
  };
  const out = new PassThrough({
    transform(chunk: Buffer, _encoding, callback) {
      if (limit === undefined) {
        head = Buffer.concat([head, chunk.subarray(0, HEAD_BYTES)]).subarray(0, HEAD_BYTES);
        if (head.length >= HEAD_BYTES) limit = looksLikeVideo(head) ? limits.videoBytes : limits.photoBytes;
      }
      count += chunk.length;
      if (count > (limit ?? largestUpload(limits))) {
        callback(tooLarge());
        part.file.resume();
        return;
      }
      callback(null, chunk);
    },
  });
  // The consumer sees errors through its own pipeline; one that has already stopped reading (its upload
  // failed for another reason) must not turn a late error here into an uncaught exception.
  out.on('error', () => undefined);
  part.file.once('limit', () => {
    out.destroy(tooLarge());
    part.file.resume();
  });
  // Not pipeline(): it would destroy `out` with the parser's raw error before we could translate it.
  part.file.on('error', (error) => out.destroy(clientError(error) as Error));
  // See PARSER_GRACE_MS: a part still open that long after the whole body was read never will end.
  void bodyRead.then(() =>
    setTimeout(() => {
      if (!out.writableEnded && !out.destroyed) out.destroy(malformed());
    }, PARSER_GRACE_MS).unref(),
  );
  part.file.pipe(out);
  return out;
}
