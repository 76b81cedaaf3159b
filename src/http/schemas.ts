import { Type } from 'typebox';

export const ErrorSchema = Type.Object(
  { error: Type.Object({ code: Type.String(), message: Type.String() }) },
  { $id: 'Error', description: 'Every error answer has this shape.' },
);

export const UserSchema = Type.Object({
  id: Type.String(),
  username: Type.String(),
  role: Type.Union([Type.Literal('user'), Type.Literal('admin')]),
  createdAt: Type.String({ format: 'date-time' }),
});

export const SignInSchema = Type.Object({
  token: Type.String(),
  expiresAt: Type.String({ format: 'date-time' }),
  user: UserSchema,
});

export const ImageSchema = Type.Object({
  id: Type.String(),
  filename: Type.String(),
  mediaType: Type.String(),
  size: Type.Integer({ description: 'Bytes of the original.' }),
  width: Type.Integer(),
  height: Type.Integer(),
  takenAt: Type.String({ format: 'date-time' }),
  uploadedAt: Type.String({ format: 'date-time' }),
  urls: Type.Object({
    thumbnail: Type.String(),
    preview: Type.String(),
    original: Type.String(),
    download: Type.String(),
  }),
});

export const UploadedImageSchema = Type.Intersect([ImageSchema, Type.Object({ duplicate: Type.Boolean() })]);

export const UsageSchema = Type.Object({
  storage: Type.Object({ usedBytes: Type.Integer(), quotaBytes: Type.Integer({ description: '0 = unlimited' }) }),
  transfer: Type.Object({
    day: Type.String({ description: 'UTC day, YYYY-MM-DD' }),
    inBytes: Type.Integer(),
    outBytes: Type.Integer(),
    usedBytes: Type.Integer(),
    quotaBytes: Type.Integer({ description: '0 = unlimited' }),
    resetsAt: Type.String({ format: 'date-time' }),
  }),
});

/** Standard error responses of a route, for the OpenAPI document. */
export const errors = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((status) => [status, { $ref: 'Error#' }]));
