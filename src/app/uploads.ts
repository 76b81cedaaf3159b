import multipart from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';

import type { Config } from '../config/config.js';
import { largestUpload, uploadLimits } from '../http/upload-parts.js';

/** Streaming multipart with the upload limits, for the gateway and for the storage service behind it. */
export async function registerUploads(app: FastifyInstance, config: Readonly<Config>): Promise<void> {
  await app.register(multipart, {
    limits: {
      fileSize: largestUpload(uploadLimits(config)),
      files: config.maxFilesPerUpload,
      fields: 10,
      parts: config.maxFilesPerUpload + 10,
      headerPairs: 50,
      fieldNameSize: 100,
    },
    throwFileSizeLimit: true,
  });
}
