import { Type, type Static, type TSchema } from 'typebox';

import { SignInSchema } from './auth.js';
import { NoContent } from './errors.js';
import { AlbumChangesSchema, AlbumSchema, NewAlbumSchema } from './albums.js';
import { ImageIdsSchema, PageQuerySchema, UploadedImageSchema, UploadResultSchema, VariantSchema } from './images.js';
import {
  ArchiveRequestSchema,
  CreatedShareSchema,
  CreateShareSchema,
  SharedPageSchema,
  ShareListSchema,
  ShareSchema,
  ShareTokenSchema,
  UpdateShareSchema,
} from './shares.js';
import { EmptiedSchema, RestoredSchema, TrashPageSchema } from './trash.js';
import {
  CreatedUploadSchema,
  CreateUploadSchema,
  HashCheckResultSchema,
  HashCheckSchema,
  UploadStatusSchema,
} from './uploads.js';
import { StorageUsageSchema, TransferUsageSchema } from './usage.js';

/**
 * The internal API between Pixa's services: each route's method, URL and schemas, declared once. The
 * services register their routes from these declarations and the gateway's HTTP clients call them
 * through the same declarations, so a changed field fails the type check on both sides.
 */
export interface InternalRoute {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Fastify's URL pattern; `:name` is filled from `params`. */
  url: string;
  params?: TSchema;
  querystring?: TSchema;
  body?: TSchema;
  /** The success status and its body (NoContent for 204). */
  status: 200 | 201 | 204;
  response: TSchema;
  /** The body is the object's bytes, streamed, not JSON (it may also answer 206 or 304). */
  stream?: true;
}

const route = <const R extends InternalRoute>(definition: R): R => definition;

/**
 * Headers of the storage service's internal media answer that the public one does not carry as
 * such: the whole object's size (for Content-Range) and its file name (URI-encoded).
 */
export const MEDIA_HEADERS = {
  totalSize: 'x-pixa-total-size',
  filename: 'x-pixa-filename',
  /** Of a shared photo's media: the variant served (the preview for an original whose location stays). */
  servedAs: 'x-pixa-served-as',
} as const;

const Id = Type.String({ maxLength: 64 });
const Role = Type.Union([Type.Literal('user'), Type.Literal('admin')]);
const Password = Type.String({ maxLength: 1024 });

export const UserParamsSchema = Type.Object({ userId: Id });
const Key = Type.String({ maxLength: 100 });
export const ShareParamsSchema = Type.Object({ userId: Id, shareId: Id });
export const KeyParamsSchema = Type.Object({ key: Key });
const SignedQuery = Type.Object({
  exp: Type.Optional(Type.String({ maxLength: 20 })),
  sig: Type.Optional(Type.String({ maxLength: 100 })),
});
export const ImageParamsSchema = Type.Object({ userId: Id, imageId: Id });
export const AlbumParamsSchema = Type.Object({ userId: Id, albumId: Id });
export const UploadParamsSchema = Type.Object({ userId: Id, uploadId: Id });

/** Who a request acts for: the session it came with and that session's user. */
export const PrincipalSchema = Type.Object({
  sessionId: Type.String(),
  userId: Type.String(),
  username: Type.String(),
  role: Role,
});
export type Principal = Static<typeof PrincipalSchema>;

/**
 * A sign-in as the auth service returns it to the gateway: with a new device token for the client's
 * device cookie. The gateway sets the cookie and leaves the token out of the public answer.
 */
export const DeviceSignInSchema = Type.Object({ ...SignInSchema.properties, device: Type.String() });
export type DeviceSignIn = Static<typeof DeviceSignInSchema>;

const Credentials = {
  username: Type.String({ minLength: 1, maxLength: 64 }),
  password: Type.String({ minLength: 1, maxLength: 1024 }),
};
/** The client's device cookie, as the gateway read it. */
const Device = Type.Optional(Type.String({ maxLength: 200 }));

export const internalRoutes = {
  // The storage service.
  storageReady: route({ method: 'GET', url: '/internal/storage/ready', status: 204, response: NoContent }),
  uploadAllowance: route({
    method: 'GET',
    url: '/internal/users/:userId/upload-allowance',
    params: UserParamsSchema,
    status: 204,
    response: NoContent,
  }),
  /** A multipart body of files, streamed through from the public upload. */
  upload: route({
    method: 'POST',
    url: '/internal/users/:userId/images',
    params: UserParamsSchema,
    status: 201,
    response: UploadResultSchema,
  }),
  deleteImage: route({
    method: 'DELETE',
    url: '/internal/users/:userId/images/:imageId',
    params: ImageParamsSchema,
    status: 204,
    response: NoContent,
  }),
  /** Moves the image to the trash (or deletes it for good when the trash is off). */
  trashImage: route({
    method: 'POST',
    url: '/internal/users/:userId/images/:imageId/trash',
    params: ImageParamsSchema,
    status: 204,
    response: NoContent,
  }),
  setFavorite: route({
    method: 'PUT',
    url: '/internal/users/:userId/images/:imageId/favorite',
    params: ImageParamsSchema,
    body: Type.Object({ favorite: Type.Boolean() }),
    status: 204,
    response: NoContent,
  }),
  listTrash: route({
    method: 'GET',
    url: '/internal/users/:userId/trash',
    params: UserParamsSchema,
    querystring: PageQuerySchema,
    status: 200,
    response: TrashPageSchema,
  }),
  restoreFromTrash: route({
    method: 'POST',
    url: '/internal/users/:userId/trash/restore',
    params: UserParamsSchema,
    body: ImageIdsSchema,
    status: 200,
    response: RestoredSchema,
  }),
  emptyTrash: route({
    method: 'POST',
    url: '/internal/users/:userId/trash/empty',
    params: UserParamsSchema,
    status: 200,
    response: EmptiedSchema,
  }),
  deleteFromTrash: route({
    method: 'DELETE',
    url: '/internal/users/:userId/trash/:imageId',
    params: ImageParamsSchema,
    status: 204,
    response: NoContent,
  }),
  createAlbum: route({
    method: 'POST',
    url: '/internal/users/:userId/albums',
    params: UserParamsSchema,
    body: NewAlbumSchema,
    status: 201,
    response: AlbumSchema,
  }),
  updateAlbum: route({
    method: 'PATCH',
    url: '/internal/users/:userId/albums/:albumId',
    params: AlbumParamsSchema,
    body: AlbumChangesSchema,
    status: 200,
    response: AlbumSchema,
  }),
  deleteAlbum: route({
    method: 'DELETE',
    url: '/internal/users/:userId/albums/:albumId',
    params: AlbumParamsSchema,
    status: 204,
    response: NoContent,
  }),
  addToAlbum: route({
    method: 'PUT',
    url: '/internal/users/:userId/albums/:albumId/images',
    params: AlbumParamsSchema,
    body: ImageIdsSchema,
    status: 200,
    response: AlbumSchema,
  }),
  removeFromAlbum: route({
    method: 'DELETE',
    url: '/internal/users/:userId/albums/:albumId/images',
    params: AlbumParamsSchema,
    body: ImageIdsSchema,
    status: 200,
    response: AlbumSchema,
  }),
  /** The variant's bytes as the response body (200, 206 or 304), with MEDIA_HEADERS. */

  // Resumable uploads, on the storage service.
  createUpload: route({
    method: 'POST',
    url: '/internal/users/:userId/uploads',
    params: UserParamsSchema,
    body: CreateUploadSchema,
    status: 201,
    response: CreatedUploadSchema,
  }),
  uploadStatus: route({
    method: 'GET',
    url: '/internal/users/:userId/uploads/:uploadId',
    params: UploadParamsSchema,
    status: 200,
    response: UploadStatusSchema,
  }),
  /** The body is the PATCH's bytes (application/offset+octet-stream), streamed through. */
  appendUpload: route({
    method: 'POST',
    url: '/internal/users/:userId/uploads/:uploadId/bytes',
    params: UploadParamsSchema,
    querystring: Type.Object({
      offset: Type.Integer({ minimum: 0 }),
      checksum: Type.Optional(Type.String({ maxLength: 100 })),
    }),
    status: 200,
    response: UploadStatusSchema,
  }),
  terminateUpload: route({
    method: 'DELETE',
    url: '/internal/users/:userId/uploads/:uploadId',
    params: UploadParamsSchema,
    status: 204,
    response: NoContent,
  }),
  uploadResult: route({
    method: 'GET',
    url: '/internal/users/:userId/uploads/:uploadId/result',
    params: UploadParamsSchema,
    status: 200,
    response: UploadedImageSchema,
  }),
  knownHashes: route({
    method: 'POST',
    url: '/internal/users/:userId/images/check',
    params: UserParamsSchema,
    body: HashCheckSchema,
    status: 200,
    response: HashCheckResultSchema,
  }),
  // Share links and ZIP downloads (the storage service).
  createShare: route({
    method: 'POST',
    url: '/internal/users/:userId/shares',
    params: UserParamsSchema,
    body: CreateShareSchema,
    status: 201,
    response: CreatedShareSchema,
  }),
  listShares: route({
    method: 'GET',
    url: '/internal/users/:userId/shares',
    params: UserParamsSchema,
    status: 200,
    response: ShareListSchema,
  }),
  updateShare: route({
    method: 'POST',
    url: '/internal/users/:userId/shares/:shareId',
    params: ShareParamsSchema,
    body: UpdateShareSchema,
    status: 200,
    response: ShareSchema,
  }),
  revokeShare: route({
    method: 'DELETE',
    url: '/internal/users/:userId/shares/:shareId',
    params: ShareParamsSchema,
    status: 204,
    response: NoContent,
  }),
  /** A ZIP of the owner's originals, streamed (with MEDIA_HEADERS.filename). */
  archiveImages: route({
    method: 'POST',
    url: '/internal/users/:userId/archive',
    params: UserParamsSchema,
    body: ArchiveRequestSchema,
    status: 200,
    response: Type.Unknown({ description: 'The ZIP' }),
    stream: true,
  }),
  viewShare: route({
    method: 'GET',
    url: '/internal/shared/:key',
    params: KeyParamsSchema,
    querystring: Type.Object({
      limit: Type.Integer({ minimum: 1, maximum: 200 }),
      cursor: Type.Optional(Type.String({ maxLength: 200 })),
      token: Type.Optional(Type.String({ maxLength: 200 })),
    }),
    status: 200,
    response: SharedPageSchema,
  }),
  unlockShare: route({
    method: 'POST',
    url: '/internal/shared/:key/unlock',
    params: KeyParamsSchema,
    body: Type.Object({ password: Password, address: Type.String({ maxLength: 100 }) }),
    status: 200,
    response: ShareTokenSchema,
  }),
  /** A shared photo's variant (200 or 304; 206 for a range of a shared video or HEIC), with MEDIA_HEADERS. */
  openShared: route({
    method: 'GET',
    url: '/internal/shared/:key/images/:imageId/:variant',
    params: Type.Object({ key: Key, imageId: Id, variant: VariantSchema }),
    querystring: SignedQuery,
    status: 200,
    response: Type.Unknown({ description: 'The bytes of the variant' }),
    stream: true,
  }),
  /** A ZIP of a link's photos, streamed (with MEDIA_HEADERS.filename). */
  archiveShared: route({
    method: 'GET',
    url: '/internal/shared/:key/archive',
    params: KeyParamsSchema,
    querystring: SignedQuery,
    status: 200,
    response: Type.Unknown({ description: 'The ZIP' }),
    stream: true,
  }),

  // The storage monitor and the usage monitor.
  storageUsage: route({
    method: 'GET',
    url: '/internal/users/:userId/storage-usage',
    params: UserParamsSchema,
    status: 200,
    response: StorageUsageSchema,
  }),
  transferUsage: route({
    method: 'GET',
    url: '/internal/users/:userId/transfer-usage',
    params: UserParamsSchema,
    status: 200,
    response: TransferUsageSchema,
  }),

  // The auth service.
  register: route({
    method: 'POST',
    url: '/internal/auth/register',
    body: Type.Object({
      ...Credentials,
      role: Type.Optional(Role),
      address: Type.Optional(Type.String({ maxLength: 100 })),
    }),
    status: 201,
    response: DeviceSignInSchema,
  }),
  login: route({
    method: 'POST',
    url: '/internal/auth/login',
    body: Type.Object({ ...Credentials, address: Type.String({ maxLength: 100 }), device: Device }),
    status: 200,
    response: DeviceSignInSchema,
  }),
  deleteUser: route({
    method: 'DELETE',
    url: '/internal/auth/users/:userId',
    params: UserParamsSchema,
    status: 204,
    response: NoContent,
  }),
  logout: route({
    method: 'POST',
    url: '/internal/auth/logout',
    body: Type.Object({ sessionId: Type.String({ maxLength: 64 }) }),
    status: 204,
    response: NoContent,
  }),
  changePassword: route({
    method: 'POST',
    url: '/internal/auth/password',
    body: Type.Object({
      principal: PrincipalSchema,
      currentPassword: Password,
      newPassword: Password,
      address: Type.Optional(Type.String({ maxLength: 100 })),
      device: Device,
    }),
    status: 200,
    response: SignInSchema,
  }),
} as const;

export type InternalRoutes = typeof internalRoutes;
/** The static type of a route's part (params, querystring, body, response), or undefined without one. */
export type RoutePart<
  R extends InternalRoute,
  K extends 'params' | 'querystring' | 'body' | 'response',
> = R[K] extends TSchema ? Static<R[K]> : undefined;
