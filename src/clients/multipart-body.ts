import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

import type { UploadPart } from '../modules/images/image.service.js';

export interface MultipartBody {
  contentType: string;
  stream: Readable;
  /** The error a part's own stream failed with (a file over the size limit, the client going away). */
  failure(): unknown;
}

/**
 * Encodes upload parts as a streamed `multipart/form-data` body, one file part after another, each
 * piped from its stream as it arrives: nothing is buffered whole, and the receiving service starts on
 * the first file while the next is still being sent. Names go in RFC 5987 form, so any name survives.
 */
export function multipartBody(parts: AsyncIterable<UploadPart>): MultipartBody {
  const boundary = `pixa-${randomBytes(16).toString('hex')}`;
  let failed: unknown;

  async function* encode(): AsyncGenerator<Buffer> {
    try {
      for await (const part of parts) {
        const name = encodeURIComponent(part.filename ?? '');
        yield Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename*=utf-8''${name}\r\n` +
            'Content-Type: application/octet-stream\r\n\r\n',
        );
        for await (const chunk of part.stream) yield chunk as Buffer;
        yield Buffer.from('\r\n');
      }
    } catch (error) {
      failed = error;
      throw error;
    }
    yield Buffer.from(`--${boundary}--\r\n`);
  }

  const stream = Readable.from(encode(), { objectMode: false });
  return { contentType: `multipart/form-data; boundary=${boundary}`, stream, failure: () => failed };
}
