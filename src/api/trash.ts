import { Type, type Static } from 'typebox';

import { ImageSchema } from './images.js';

export const TrashedImageSchema = Type.Object({
  ...ImageSchema.properties,
  trashedAt: Type.String({ format: 'date-time' }),
  purgeAt: Type.String({ format: 'date-time', description: 'When it will be deleted for good.' }),
});
/** A photo in the trash: the image, when it was trashed, and when it will be purged. */
export type TrashedImage = Static<typeof TrashedImageSchema>;

export const TrashPageSchema = Type.Object({
  items: Type.Array(TrashedImageSchema),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
export type TrashPage = Static<typeof TrashPageSchema>;

export const RestoredSchema = Type.Object({
  restored: Type.Integer({ description: 'Photos taken out of the trash.' }),
});
export type Restored = Static<typeof RestoredSchema>;

export const EmptiedSchema = Type.Object({ deleted: Type.Integer({ description: 'Photos deleted for good.' }) });
export type Emptied = Static<typeof EmptiedSchema>;
