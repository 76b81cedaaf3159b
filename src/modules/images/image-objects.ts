import type { Variant } from '../../api/images.js';
import { DERIVATIVE_TYPE } from '../../image/image-processor.js';
import type { StorageEvent } from '../usage/storage-event.repository.js';
import type { ImageRow } from './image.repository.js';

/** The three objects of an image, under its prefix `<userId>/<imageId>/`. */
const OBJECT_NAMES: Record<Variant, string> = {
  original: 'original',
  preview: 'preview.webp',
  thumbnail: 'thumb.webp',
};

export const objectKey = (row: Pick<ImageRow, 'object_prefix'>, variant: Variant): string =>
  `${row.object_prefix}${OBJECT_NAMES[variant]}`;

/** A variant's ETag: the original's content hash, or the derivative's id (derivatives never change). */
export const etagOf = (row: ImageRow, variant: Variant): string =>
  variant === 'original' ? `"${row.sha256}"` : `"${row.id}-${variant}"`;

export const variantSize = (row: ImageRow, variant: Variant): number =>
  variant === 'original' ? row.original_bytes : variant === 'preview' ? row.preview_bytes : row.thumbnail_bytes;

export const contentTypeOf = (row: ImageRow, variant: Variant): string =>
  variant === 'original' ? row.media_type : DERIVATIVE_TYPE;

/** The name a variant is saved under: the original's own, or `<name>-<variant>.webp`. */
export const variantFilename = (row: ImageRow, variant: Variant): string =>
  variant === 'original' ? row.filename : `${row.filename.replace(/\.[^.]*$/, '')}-${variant}.webp`;

/** One storage event for each of an image's three objects. */
export const objectEvents = (
  row: ImageRow,
  at: number,
  operation: 'upload' | 'delete',
  status: number,
): StorageEvent[] =>
  (['original', 'thumbnail', 'preview'] as const).map((variant) => ({
    at,
    user_id: row.owner_id,
    image_id: row.id,
    operation,
    object_key: objectKey(row, variant),
    bytes: variantSize(row, variant),
    status,
  }));
