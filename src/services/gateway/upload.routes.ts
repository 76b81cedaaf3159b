import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

import { errors } from '../../api/errors.js';
import { UploadedImageSchema } from '../../api/images.js';
import {
  HashCheckResultSchema,
  HashCheckSchema,
  TUS_CONTENT_TYPE,
  TUS_EXTENSIONS,
  TUS_VERSION,
  UploadIdParamsSchema,
  type UploadStatus,
} from '../../api/uploads.js';
import { principalOf, requireUser } from '../../http/auth-hook.js';
import { typed } from '../../http/typed.js';
import { AppError } from '../../lib/app-error.js';
import type { GatewayDeps } from './gateway-deps.js';

const BASE = '/api/v1/uploads';
const TAGS = ['uploads'];

/**
 * The tus 1.0 protocol at /api/v1/uploads (creation, creation-with-upload, termination, expiration,
 * checksum with sha256): headers in, headers out, and the upload's state kept by the storage service,
 * so any replica continues any upload. Errors keep Pixa's JSON envelope.
 */
export async function uploadRoutes(fastify: FastifyInstance, deps: GatewayDeps) {
  const app = typed(fastify);
  const { services, config } = deps;
  const authenticated = requireUser(services().auth);
  // PATCH bodies are streamed to the storage service as they arrive.
  fastify.addContentTypeParser(TUS_CONTENT_TYPE, (_request, _payload, done) => done(null));
  // Every answer of the protocol names its version, errors included.
  fastify.addHook('onSend', async (request, reply, payload) => {
    if (request.url.startsWith(BASE)) reply.header('tus-resumable', TUS_VERSION);
    return payload;
  });

  function describeServer(_request: FastifyRequest, reply: FastifyReply) {
    return reply
      .status(204)
      .headers({
        'tus-version': TUS_VERSION,
        'tus-extension': TUS_EXTENSIONS.join(','),
        'tus-max-size': String(config.maxUploadBytes),
        'tus-checksum-algorithm': 'sha256',
      })
      .send();
  }
  for (const url of [BASE, `${BASE}/:id`]) {
    fastify.route({
      method: 'OPTIONS',
      url,
      schema: { tags: TAGS, summary: 'The tus versions, extensions and size limit this server supports' },
      handler: describeServer,
    });
  }

  app.post(
    BASE,
    {
      preHandler: authenticated,
      schema: {
        tags: TAGS,
        summary: 'Create a resumable upload (tus creation; the first bytes may come along)',
        description:
          'Headers: `Tus-Resumable: 1.0.0`, `Upload-Length` (required), `Upload-Metadata` with `filename` and ' +
          'optionally `sha256` (hex) of the whole file. Holds that many bytes of the storage quota and of ' +
          'today’s transfer: 413 or 429 before any byte when they do not fit. 201 with `Location`; 200 with ' +
          'the image when the account already has a photo with that `sha256` (nothing to send).',
        response: { 200: UploadedImageSchema, ...errors(400, 401, 412, 413, 415, 429, 460) },
      },
    },
    async (request, reply) => {
      checkVersion(request);
      if (request.headers['upload-defer-length'] !== undefined) {
        throw new AppError(
          'length_required',
          400,
          'Send Upload-Length: Pixa holds the quota for the whole file up front.',
        );
      }
      const length = integerHeader(request, 'upload-length');
      if (length === undefined) throw new AppError('length_required', 400, 'Send the file’s size as Upload-Length.');
      const metadata = parseMetadata(headerOf(request, 'upload-metadata'));
      const { userId } = principalOf(request);
      const { uploads } = services(request);
      const created = await uploads.create(userId, { length, filename: metadata.filename, sha256: metadata.sha256 });
      if (created.existing) {
        request.raw.resume();
        return reply.status(200).send(created.existing);
      }
      let status = created.upload!;
      reply.header('location', `${BASE}/${status.id}`);
      if (request.headers['content-type'] === TUS_CONTENT_TYPE && hasBody(request)) {
        status = await uploads.append(userId, status.id, {
          offset: 0,
          body: request.raw,
          checksum: checksumOf(request),
        });
      }
      // 201 has no body (tus); only the 200 of a known photo has one, which the schema describes.
      return (reply as FastifyReply).status(201).headers(statusHeaders(status)).send();
    },
  );

  app.route({
    method: 'HEAD',
    url: `${BASE}/:id`,
    preHandler: authenticated,
    schema: {
      tags: TAGS,
      summary: 'Where an upload stands: Upload-Offset, Upload-Length, and Pixa-Upload-State once complete',
      params: UploadIdParamsSchema,
      response: errors(401, 404, 410),
    },
    handler: async (request, reply) => {
      checkVersion(request);
      const status = await services(request).uploads.status(principalOf(request).userId, request.params.id);
      return reply
        .status(200)
        .headers({ ...statusHeaders(status), 'upload-length': String(status.length), 'cache-control': 'no-store' })
        .headers(status.filename ? { 'upload-metadata': metadataOf(status) } : {})
        .send();
    },
  });

  app.route({
    method: 'PATCH',
    url: `${BASE}/:id`,
    preHandler: authenticated,
    schema: {
      tags: TAGS,
      summary: 'Send bytes from Upload-Offset (application/offset+octet-stream; Upload-Checksum: sha256 <base64>)',
      description:
        'A cut request keeps every byte that arrived (without Upload-Checksum); HEAD tells where to go on. ' +
        'The request that brings the last byte answers once the image is stored (or refused): see ' +
        '`Pixa-Upload-State` and `GET /api/v1/uploads/:id/result`.',
      params: UploadIdParamsSchema,
      response: errors(400, 401, 404, 409, 410, 412, 413, 415, 460),
    },
    handler: async (request, reply) => {
      checkVersion(request);
      if (request.headers['content-type'] !== TUS_CONTENT_TYPE) {
        throw new AppError('unsupported_media_type', 415, `Send PATCH bodies as ${TUS_CONTENT_TYPE}.`);
      }
      const offset = integerHeader(request, 'upload-offset');
      if (offset === undefined) throw new AppError('offset_required', 400, 'Send Upload-Offset with every PATCH.');
      const status = await services(request).uploads.append(principalOf(request).userId, request.params.id, {
        offset,
        body: request.raw,
        checksum: checksumOf(request),
      });
      return reply.status(204).headers(statusHeaders(status)).send();
    },
  });

  app.delete(
    `${BASE}/:id`,
    {
      preHandler: authenticated,
      schema: {
        tags: TAGS,
        summary: 'Stop an upload (tus termination): its bytes and its quota reservation go at once',
        params: UploadIdParamsSchema,
        response: errors(401, 404, 409),
      },
    },
    async (request, reply) => {
      checkVersion(request);
      await services(request).uploads.terminate(principalOf(request).userId, request.params.id);
      return reply.status(204).send();
    },
  );

  app.get(
    `${BASE}/:id/result`,
    {
      preHandler: authenticated,
      schema: {
        tags: TAGS,
        summary: 'The image a finished upload became, or its refusal (the same error a multipart upload gets)',
        params: UploadIdParamsSchema,
        response: { 200: UploadedImageSchema, ...errors(400, 401, 404, 409, 410, 413, 415, 429) },
      },
    },
    async (request) => services(request).uploads.result(principalOf(request).userId, request.params.id),
  );

  app.post(
    '/api/v1/images/check',
    {
      // 5,000 hashes of 64 digits in JSON.
      bodyLimit: 512 * 1024,
      preHandler: authenticated,
      schema: {
        tags: ['images'],
        summary: 'Which of these SHA-256 hashes (at most 5,000) the signed-in account’s photos already have',
        body: HashCheckSchema,
        response: { 200: HashCheckResultSchema, ...errors(400, 401) },
      },
    },
    async (request) => ({
      known: await services(request).uploads.knownHashes(principalOf(request).userId, request.body.sha256),
    }),
  );
}

function headerOf(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function checkVersion(request: FastifyRequest): void {
  const version = headerOf(request, 'tus-resumable');
  if (version !== TUS_VERSION) {
    throw new AppError('unsupported_tus_version', 412, `Send Tus-Resumable: ${TUS_VERSION}.`, {
      'tus-version': TUS_VERSION,
    });
  }
}

function integerHeader(request: FastifyRequest, name: string): number | undefined {
  const value = headerOf(request, name);
  if (value === undefined) return undefined;
  if (!/^\d{1,15}$/.test(value.trim())) {
    throw new AppError('invalid_header', 400, `${name} must be a whole number of bytes.`);
  }
  return Number(value);
}

const hasBody = (request: FastifyRequest): boolean =>
  Number(headerOf(request, 'content-length') ?? 0) > 0 || headerOf(request, 'transfer-encoding') !== undefined;

/** Upload-Checksum `sha256 <base64>` as its base64 digest; other algorithms are refused. */
function checksumOf(request: FastifyRequest): string | undefined {
  const value = headerOf(request, 'upload-checksum');
  if (value === undefined) return undefined;
  const match = /^(\S+) ([A-Za-z0-9+/]+={0,2})$/.exec(value.trim());
  if (!match) throw new AppError('invalid_checksum', 400, 'Upload-Checksum must be "sha256 <base64 digest>".');
  if (match[1]!.toLowerCase() !== 'sha256') {
    throw new AppError('unsupported_checksum', 400, 'Pixa checks Upload-Checksum with sha256 only.');
  }
  return match[2];
}

/** tus Upload-Metadata: comma-separated `key base64value` pairs (a key alone has no value). */
function parseMetadata(header: string | undefined): { filename?: string; sha256?: string } {
  const pairs: Record<string, string> = {};
  for (const item of (header ?? '').split(',')) {
    const [key, value] = item.trim().split(' ');
    if (!key) continue;
    if (value !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) {
      throw new AppError('invalid_metadata', 400, `Upload-Metadata "${key}" is not base64.`);
    }
    pairs[key] = value === undefined ? '' : Buffer.from(value, 'base64').toString('utf8');
  }
  return { filename: pairs.filename ?? pairs.name, sha256: pairs.sha256 || undefined };
}

function metadataOf(status: UploadStatus): string {
  const pairs = [`filename ${Buffer.from(status.filename).toString('base64')}`];
  if (status.sha256) pairs.push(`sha256 ${Buffer.from(status.sha256).toString('base64')}`);
  return pairs.join(',');
}

/** The tus headers of an upload's state, and Pixa's own once it has ended. */
function statusHeaders(status: UploadStatus): Record<string, string> {
  const headers: Record<string, string> = {
    'upload-offset': String(status.offset),
    'upload-expires': new Date(status.expiresAt).toUTCString(),
    'pixa-upload-state': status.state,
  };
  if (status.imageId) headers['pixa-image-id'] = status.imageId;
  if (status.refusal) headers['pixa-upload-refusal'] = status.refusal.code;
  return headers;
}
