import { Type, type Static } from 'typebox';

import { ImagePageSchema } from './images.js';

export const ALBUM_TITLE_MAX = 200;
export const ALBUM_DESCRIPTION_MAX = 2000;

const Title = Type.String({ minLength: 1, maxLength: ALBUM_TITLE_MAX, description: '1–200 characters.' });
const Description = Type.String({ maxLength: ALBUM_DESCRIPTION_MAX, description: 'Up to 2000 characters.' });
const Time = Type.String({ format: 'date-time' });

export const AlbumSchema = Type.Object({
  id: Type.String(),
  title: Type.String(),
  description: Type.String(),
  count: Type.Integer({ description: 'Photos in the album (photos in the trash are not counted).' }),
  coverImageId: Type.Union([Type.String(), Type.Null()], {
    description: 'The cover the owner chose; null means the newest photo.',
  }),
  coverUrl: Type.Union([Type.String(), Type.Null()], {
    description: 'Signed thumbnail URL of the cover (the chosen one, else the newest photo); null when empty.',
  }),
  firstTakenAt: Type.Union([Time, Type.Null()], { description: 'The oldest photo’s time taken; null when empty.' }),
  lastTakenAt: Type.Union([Time, Type.Null()], { description: 'The newest photo’s time taken; null when empty.' }),
  createdAt: Time,
  updatedAt: Time,
  activityAt: Type.String({ format: 'date-time', description: 'Created, or photos last added.' }),
});
/** One album as the API shows it. */
export type Album = Static<typeof AlbumSchema>;

export const AlbumListSchema = Type.Object({ items: Type.Array(AlbumSchema) });
export type AlbumList = Static<typeof AlbumListSchema>;

export const NewAlbumSchema = Type.Object(
  { title: Title, description: Type.Optional(Description) },
  { additionalProperties: false },
);
export type NewAlbum = Static<typeof NewAlbumSchema>;

export const AlbumChangesSchema = Type.Object(
  {
    title: Type.Optional(Title),
    description: Type.Optional(Description),
    coverImageId: Type.Optional(
      Type.Union([Type.String({ maxLength: 64 }), Type.Null()], {
        description: 'A photo of the album, or null for the newest photo.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type AlbumChanges = Static<typeof AlbumChangesSchema>;

// No length limit: a malformed id is a 404 like any unknown album.
export const AlbumIdParamsSchema = Type.Object({ id: Type.String() });

/** An album's photos, a page at a time, in the gallery's order and with its cursors. */
export const AlbumImagePageSchema = ImagePageSchema;
