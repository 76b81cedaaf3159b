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

/**
 * The name a variant is saved under: the original's own, or `<name>-<variant>.webp`. A HEIF original
 * always ends in .heic/.heif (some apps hand over `IMG_0001.jpg` or no extension for one): a
 * photo app opening the download decides by that name.
 */
export const variantFilename = (row: ImageRow, variant: Variant): string =>
  variant === 'original' ? originalFilename(row) : `${row.filename.replace(/\.[^.]*$/, '')}-${variant}.webp`;

const HEIF_EXTENSIONS: Readonly<Record<string, string>> = {
  'image/heic': '.heic',
  'image/heic-sequence': '.heic',
  'image/heif': '.heif',
  'image/heif-sequence': '.heif',
};

function originalFilename(row: ImageRow): string {
  const extension = HEIF_EXTENSIONS[row.media_type];
  if (!extension || /\.(heic|heif|hif|heics|heifs)$/i.test(row.filename)) return row.filename;
  return `${row.filename.replace(/\.[a-z0-9]{1,5}$/i, '')}${extension}`;
}

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
