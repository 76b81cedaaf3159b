import type { MultipartFile } from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';

import { AppError } from '../lib/app-error.js';
import { mb } from '../lib/format.js';
import type { UploadPart } from '../modules/images/image.service.js';

/** The file parts of a multipart request, with a too-large file reported by name and limit. */
export async function* fileParts(request: FastifyRequest, maxBytes: number): AsyncIterable<UploadPart> {
  for await (const part of request.parts()) {
    if (part.type !== 'file') continue;
    yield { filename: multipartFilename(part.filename), stream: withSizeMessage(part, maxBytes) };
  }
}

/**
 * Browsers (and fetch) send a `"` in a multipart filename as `%22`, per the HTML form encoding, and
 * busboy leaves it escaped. Undo that one escape so that `my "best" photo.jpg` keeps its name.
 */
const multipartFilename = (name: string | undefined): string | undefined => name?.replace(/%22/g, '"');

function withSizeMessage(part: MultipartFile, maxBytes: number): MultipartFile['file'] {
  // Busboy only marks an oversized file truncated and ends it; fail the stream instead, so staging
  // stops at the limit and the error names the file.
  part.file.once('limit', () => {
    const name = part.filename || 'The file';
    part.file.destroy(
      new AppError('file_too_large', 413, `"${name}" is larger than the ${mb(maxBytes)} limit per file.`),
    );
  });
  return part.file;
}
