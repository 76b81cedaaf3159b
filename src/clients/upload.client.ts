import type { Readable } from 'node:stream';

import { internalRoutes as routes } from '../api/internal.js';
import { TUS_CONTENT_TYPE } from '../api/uploads.js';
import type { UploadsClient } from './clients.js';
import type { ServiceCaller } from './http-client.js';
import { callInternal } from './internal-call.js';

/**
 * Resumable uploads on the storage service over HTTP (pod mode). A PATCH's bytes are streamed
 * through as the internal call's body; when the client's connection is cut, the call is cut too, and
 * the storage service keeps what reached it.
 */
export function httpUploadsClient(client: ServiceCaller, options: { uploadTimeoutMs: number }): UploadsClient {
  return {
    create: (userId, input) => callInternal(client, routes.createUpload, { params: { userId }, json: input }),

    status: (userId, uploadId) =>
      callInternal(client, routes.uploadStatus, {
        params: { userId, uploadId },
        headersTimeoutMs: options.uploadTimeoutMs,
      }),

    async append(userId, uploadId, request) {
      const body: Readable = request.body;
      const abort = new AbortController();
      const cut = () => abort.abort();
      body.once('error', cut);
      body.once('aborted', cut);
      try {
        return await callInternal(client, routes.appendUpload, {
          params: { userId, uploadId },
          query: { offset: request.offset, checksum: request.checksum },
          body,
          headers: { 'content-type': TUS_CONTENT_TYPE },
          headersTimeoutMs: options.uploadTimeoutMs,
          signal: abort.signal,
        });
      } finally {
        body.off('error', cut);
        body.off('aborted', cut);
      }
    },

    async terminate(userId, uploadId) {
      await callInternal(client, routes.terminateUpload, { params: { userId, uploadId } });
    },

    result: (userId, uploadId) =>
      callInternal(client, routes.uploadResult, {
        params: { userId, uploadId },
        headersTimeoutMs: options.uploadTimeoutMs,
      }),

    async knownHashes(userId, hashes) {
      const answer = await callInternal(client, routes.knownHashes, { params: { userId }, json: { sha256: hashes } });
      return answer.known;
    },
  };
}
