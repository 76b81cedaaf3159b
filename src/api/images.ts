import { Type, type Static } from 'typebox';

/** The sizes an image is served in. */
export const VARIANTS = ['original', 'preview', 'thumbnail'] as const;
export type Variant = (typeof VARIANTS)[number];
export const VariantSchema = Type.Union([Type.Literal('original'), Type.Literal('preview'), Type.Literal('thumbnail')]);

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
  favorite: Type.Boolean({ description: 'Marked as a favourite by its owner.' }),
  albumIds: Type.Array(Type.String(), { description: 'The albums it is in.' }),
});
/** One image as the API shows it: metadata and signed media URLs. */
export type Image = Static<typeof ImageSchema>;

export const UploadedImageSchema = Type.Intersect([
  ImageSchema,
  Type.Object({
    duplicate: Type.Boolean({ description: 'True when these exact bytes were already in the account.' }),
  }),
]);
export type UploadedImage = Static<typeof UploadedImageSchema>;

export const UploadResultSchema = Type.Object({ images: Type.Array(UploadedImageSchema) });
export type UploadResult = Static<typeof UploadResultSchema>;

export const ImagePageSchema = Type.Object({
  items: Type.Array(ImageSchema),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
export type ImagePage = Static<typeof ImagePageSchema>;

export const PageQuerySchema = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 200, default: 60 }),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
});

export const GalleryQuerySchema = Type.Object({
  ...PageQuerySchema.properties,
  favorite: Type.Optional(Type.Boolean({ description: 'true: only favourites.' })),
});

/** The most image ids one request may name (adding to an album, restoring from the trash). */
export const MAX_IDS_PER_REQUEST = 500;

/** A set of the caller's image ids; repeated ids count once. */
export const ImageIdsSchema = Type.Object(
  { ids: Type.Array(Type.String({ maxLength: 64 }), { minItems: 1, maxItems: MAX_IDS_PER_REQUEST }) },
  { additionalProperties: false },
);
export type ImageIds = Static<typeof ImageIdsSchema>;

// No length limit here: a malformed id is a 404 like any unknown image, not a validation error.
export const ImageIdParamsSchema = Type.Object({ id: Type.String() });
export type ImageIdParams = Static<typeof ImageIdParamsSchema>;

/** How a media URL is authorised when no Bearer token comes with it. */
export const MediaQuerySchema = Type.Object({
  exp: Type.Optional(Type.String({ maxLength: 20 })),
  u: Type.Optional(Type.String({ maxLength: 64 })),
  sig: Type.Optional(Type.String({ maxLength: 100 })),
  download: Type.Optional(Type.String({ maxLength: 5 })),
});
export type MediaQuery = Static<typeof MediaQuerySchema>;
