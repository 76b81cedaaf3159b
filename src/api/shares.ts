import { Type, type Static } from 'typebox';

/** At most this many photos in one link to chosen photos, or one ZIP of the owner's originals. */
export const MAX_SHARE_IDS = 500;

const Ids = Type.Array(Type.String({ maxLength: 64 }), { minItems: 1, maxItems: MAX_SHARE_IDS });
const SharePassword = Type.String({ minLength: 1, maxLength: 1024 });
const Title = Type.String({ minLength: 1, maxLength: 200 });
const Description = Type.String({ maxLength: 2000 });
const When = Type.String({ format: 'date-time' });

export const CreateShareSchema = Type.Object({
  albumId: Type.Optional(Type.String({ maxLength: 64, description: 'Share an album (give this or imageIds)' })),
  imageIds: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { minItems: 1, maxItems: MAX_SHARE_IDS })),
  title: Type.Optional(Title),
  description: Type.Optional(Description),
  expiresAt: Type.Optional(When),
  password: Type.Optional(SharePassword),
  allowDownload: Type.Boolean({ default: true, description: 'Visitors may download the originals (location removed)' }),
  showMetadata: Type.Boolean({ default: false, description: 'Visitors see file names and dates taken' }),
  showOwner: Type.Boolean({ default: false, description: 'Visitors see the owner’s username' }),
});
export type CreateShare = Static<typeof CreateShareSchema>;

export const UpdateShareSchema = Type.Object({
  title: Type.Optional(Title),
  description: Type.Optional(Type.Union([Description, Type.Null()])),
  expiresAt: Type.Optional(Type.Union([When, Type.Null()], { description: 'null: never expires' })),
  password: Type.Optional(Type.Union([SharePassword, Type.Null()], { description: 'null: no password' })),
  allowDownload: Type.Optional(Type.Boolean()),
  showMetadata: Type.Optional(Type.Boolean()),
  showOwner: Type.Optional(Type.Boolean()),
});
export type UpdateShare = Static<typeof UpdateShareSchema>;

/** A share link as its owner sees it. The key (and so the URL) is only in the answer that created it. */
export const ShareSchema = Type.Object({
  id: Type.String(),
  albumId: Type.Union([Type.String(), Type.Null()]),
  imageCount: Type.Integer({ description: 'Photos a visitor sees now' }),
  title: Type.Union([Type.String(), Type.Null()]),
  description: Type.Union([Type.String(), Type.Null()]),
  createdAt: When,
  expiresAt: Type.Union([When, Type.Null()]),
  expired: Type.Boolean(),
  hasPassword: Type.Boolean(),
  allowDownload: Type.Boolean(),
  showMetadata: Type.Boolean(),
  showOwner: Type.Boolean(),
  viewCount: Type.Integer({ description: 'Times the link was opened' }),
  lastAccessAt: Type.Union([When, Type.Null()]),
});
export type Share = Static<typeof ShareSchema>;

export const CreatedShareSchema = Type.Intersect([
  ShareSchema,
  Type.Object({ url: Type.String({ description: '`/s/<key>`: shown only now; Pixa keeps only a hash of the key' }) }),
]);
export type CreatedShare = Static<typeof CreatedShareSchema>;

export const ShareListSchema = Type.Object({ items: Type.Array(ShareSchema) });
export type ShareList = Static<typeof ShareListSchema>;

export const ShareIdParamsSchema = Type.Object({ id: Type.String() });

// ---- What a visitor sees -----------------------------------------------------------------------

export const ShareKeyParamsSchema = Type.Object({ key: Type.String() });

export const SharedPageQuerySchema = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 200, default: 60 }),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
});

/** The header that carries the token of an unlocked password-protected link. */
export const SHARE_TOKEN_HEADER = 'x-pixa-share-token';
/** The header of a media answer that serves the preview where the original was asked for. */
export const SERVED_AS_HEADER = 'x-pixa-served-as';

export const SharedItemSchema = Type.Object({
  id: Type.String(),
  width: Type.Integer(),
  height: Type.Integer(),
  mediaType: Type.String(),
  kind: Type.Union([Type.Literal('photo'), Type.Literal('video')]),
  durationMs: Type.Union([Type.Integer(), Type.Null()], { description: 'A video’s duration; null for photos' }),
  filename: Type.Optional(Type.String({ description: 'Only when the owner shows metadata' })),
  takenAt: Type.Optional(When),
  urls: Type.Object({
    thumbnail: Type.String(),
    preview: Type.String(),
    video: Type.Optional(
      Type.String({
        description:
          'A video’s stream for `<video src>` (Range supported), downloads allowed or not: its H.264 playback copy ' +
          'once made, else the MP4/MOV original with its location removed. Absent for a video that cannot be ' +
          'played without its location (a WebM whose copy is not made yet)',
      }),
    ),
    original: Type.Optional(Type.String({ description: 'Only when downloads are allowed' })),
    download: Type.Optional(Type.String()),
  }),
  downloadServes: Type.Union([Type.Literal('original'), Type.Literal('preview')], {
    description:
      '`original`: the file with its location removed; `preview`: for formats whose location cannot be removed ' +
      'without re-encoding (GIF, AVIF, TIFF, WebM), the preview is served instead',
  }),
});
export type SharedItem = Static<typeof SharedItemSchema>;

export const SharedPageSchema = Type.Object({
  title: Type.String(),
  description: Type.Optional(Type.String()),
  owner: Type.Optional(Type.String({ description: 'The owner’s username, when they chose to show it' })),
  imageCount: Type.Integer(),
  allowDownload: Type.Boolean(),
  expiresAt: Type.Union([When, Type.Null()]),
  archiveUrl: Type.Optional(Type.String({ description: 'A ZIP of every original (when downloads are allowed)' })),
  items: Type.Array(SharedItemSchema),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
export type SharedPage = Static<typeof SharedPageSchema>;

export const UnlockShareSchema = Type.Object({ password: Type.String({ maxLength: 1024 }) });
export const ShareTokenSchema = Type.Object({
  token: Type.String({ description: `Send it as the ${SHARE_TOKEN_HEADER} header; it opens this link only` }),
  expiresAt: When,
});
export type ShareToken = Static<typeof ShareTokenSchema>;

/** A shared photo's media URL: signed for this link, this photo and this variant, until `exp`. */
export const SharedMediaQuerySchema = Type.Object({
  exp: Type.Optional(Type.String({ maxLength: 20 })),
  sig: Type.Optional(Type.String({ maxLength: 100 })),
  download: Type.Optional(Type.String({ maxLength: 5 })),
});
export type SharedMediaQuery = Static<typeof SharedMediaQuerySchema>;

export const SharedMediaParamsSchema = Type.Object({
  key: Type.String(),
  imageId: Type.String(),
  variant: Type.Union([
    Type.Literal('original'),
    Type.Literal('preview'),
    Type.Literal('thumbnail'),
    Type.Literal('playback'),
  ]),
});

export const ArchiveRequestSchema = Type.Object({ ids: Ids });
export type ArchiveRequest = Static<typeof ArchiveRequestSchema>;
