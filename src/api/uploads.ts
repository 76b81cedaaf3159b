import { Type, type Static } from 'typebox';

import { UploadedImageSchema } from './images.js';

/** The tus protocol version Pixa speaks, and the extensions it implements. */
export const TUS_VERSION = '1.0.0';
export const TUS_EXTENSIONS = ['creation', 'creation-with-upload', 'termination', 'expiration', 'checksum'] as const;
/** The content type of every PATCH (and of a POST that carries the first bytes). */
export const TUS_CONTENT_TYPE = 'application/offset+octet-stream';

export const UploadStateSchema = Type.Union([
  Type.Literal('open'),
  Type.Literal('processing'),
  Type.Literal('done'),
  Type.Literal('refused'),
]);
export type UploadState = Static<typeof UploadStateSchema>;

/** Why a finished upload did not become an image: the error the multipart upload would have answered. */
export const UploadRefusalSchema = Type.Object({
  status: Type.Integer(),
  code: Type.String(),
  message: Type.String(),
});
export type UploadRefusal = Static<typeof UploadRefusalSchema>;

/** One resumable upload as the storage service reports it; the gateway turns it into tus headers. */
export const UploadStatusSchema = Type.Object({
  id: Type.String(),
  length: Type.Integer(),
  offset: Type.Integer(),
  filename: Type.String(),
  sha256: Type.Optional(Type.String()),
  state: UploadStateSchema,
  expiresAt: Type.String({ format: 'date-time' }),
  imageId: Type.Optional(Type.String()),
  refusal: Type.Optional(UploadRefusalSchema),
});
export type UploadStatus = Static<typeof UploadStatusSchema>;

/** What creating an upload needs: its length and what Upload-Metadata said. */
export const CreateUploadSchema = Type.Object({
  length: Type.Integer({ minimum: 0 }),
  filename: Type.Optional(Type.String({ maxLength: 1024 })),
  sha256: Type.Optional(Type.String({ maxLength: 128 })),
});
export type CreateUpload = Static<typeof CreateUploadSchema>;

/** A created upload, or the image the account already has when the announced SHA-256 matched one. */
export const CreatedUploadSchema = Type.Object({
  upload: Type.Optional(UploadStatusSchema),
  existing: Type.Optional(UploadedImageSchema),
});
export type CreatedUpload = Static<typeof CreatedUploadSchema>;

export const UploadIdParamsSchema = Type.Object({ id: Type.String() });

/** `POST /api/v1/images/check`: which of these SHA-256 hashes the caller's own photos have. */
export const HashCheckSchema = Type.Object({
  sha256: Type.Array(Type.String({ pattern: '^[0-9a-fA-F]{64}$' }), { maxItems: 5000 }),
});
export type HashCheck = Static<typeof HashCheckSchema>;
export const HashCheckResultSchema = Type.Object({
  known: Type.Array(Type.String(), { description: 'The hashes (lower-case) the account already has' }),
});
export type HashCheckResult = Static<typeof HashCheckResultSchema>;
