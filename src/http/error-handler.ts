import type { FastifyError, FastifyInstance } from 'fastify';

import { isDatabaseUnavailable } from '../db/database.js';
import { AppError } from '../lib/app-error.js';
import { StoreUnavailableError } from '../storage/object-store.js';

export interface ErrorBody {
  error: { code: string; message: string };
}

/** Framework errors that are the client's doing, with the code and message a person can act on. */
const CLIENT_ERRORS: Record<string, { code: string; message: string }> = {
  FST_FILES_LIMIT: { code: 'too_many_files', message: 'Too many files in one upload. Send fewer at a time.' },
  FST_PARTS_LIMIT: { code: 'too_many_parts', message: 'The upload has too many parts.' },
  FST_FIELDS_LIMIT: { code: 'too_many_fields', message: 'The upload has too many form fields.' },
  FST_PROTO_VIOLATION: { code: 'invalid_multipart', message: 'The multipart body is malformed.' },
  FST_INVALID_MULTIPART_CONTENT_TYPE: {
    code: 'expected_multipart',
    message: 'Send images as multipart/form-data.',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: 'unsupported_content_type',
    message: 'This content type is not accepted here.',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'body_too_large', message: 'The request body is too large.' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'invalid_json', message: 'The JSON body is empty.' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'invalid_json', message: 'The body is not valid JSON.' },
};

/**
 * One error format everywhere: `{"error": {"code", "message"}}`. AppErrors and client mistakes
 * keep their status and message; an unreachable database or object store is a 503; anything else
 * is logged with its cause and answered with a generic 500 that leaks nothing.
 */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const send = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
      reply
        .status(status)
        .headers({ 'cache-control': 'no-store', ...headers })
        .send({ error: { code, message } } satisfies ErrorBody);

    if (error instanceof AppError) {
      if (error.statusCode >= 500) request.log.warn({ err: error }, 'request failed');
      return send(error.statusCode, error.code, error.message, { ...error.headers });
    }
    if (error.validation) {
      const first = error.validation[0];
      const where = first?.instancePath
        ? first.instancePath.replace(/^\//, '').replace(/\//g, '.')
        : error.validationContext;
      const detail = first?.message ?? 'is invalid';
      return send(400, 'validation_failed', `Invalid request: ${where ?? 'input'} ${detail}.`);
    }
    const known = error.code ? CLIENT_ERRORS[error.code] : undefined;
    if (known) {
      const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
      return send(status === 406 ? 415 : status, known.code, known.message);
    }
    if (error instanceof StoreUnavailableError || isDatabaseUnavailable(error)) {
      request.log.error({ err: error }, 'dependency unavailable');
      const what = error instanceof StoreUnavailableError ? 'Photo storage' : 'The database';
      return send(503, 'service_unavailable', `${what} is unavailable right now. Try again in a moment.`, {
        'retry-after': '5',
      });
    }
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      return send(error.statusCode, 'bad_request', 'The request could not be processed. Check its format.');
    }
    request.log.error({ err: error }, 'unexpected error');
    return send(
      500,
      'internal_error',
      'Something went wrong on our side. Try again; if it persists, tell the administrator.',
    );
  });

  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .header('cache-control', 'no-store')
      .send({
        error: { code: 'not_found', message: `No such endpoint: ${request.method} ${request.url.split('?')[0]}` },
      }),
  );
}
