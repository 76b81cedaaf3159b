import { VARIANTS, type Variant } from '../../api/images.js';
import { DERIVATIVE_TYPE } from '../../image/image-processor.js';
import type { StorageEvent } from '../usage/storage-event.repository.js';
import type { ImageRow } from './image.repository.js';

/** The objects of an image, under its prefix `<userId>/<imageId>/`. */
const OBJECT_NAMES: Record<Variant, string> = {
  original: 'original',
  preview: 'preview.webp',
  thumbnail: 'thumb.webp',
  playback: 'playback.mp4',
};

export const PLAYBACK_TYPE = 'video/mp4';

/** Variants sent as streams with Range support, never held in memory: the original and a video's copy. */
export const isStreamedVariant = (variant: Variant): boolean => variant === 'original' || variant === 'playback';

export const objectKey = (row: Pick<ImageRow, 'object_prefix'>, variant: Variant): string =>
  `${row.object_prefix}${OBJECT_NAMES[variant]}`;

/** A variant's ETag: the original's content hash, or the derivative's id (derivatives never change). */
export const etagOf = (row: ImageRow, variant: Variant): string =>
  variant === 'original' ? `"${row.sha256}"` : `"${row.id}-${variant}"`;

export const variantSize = (row: ImageRow, variant: Variant): number => {
  switch (variant) {
    case 'original':
      return row.original_bytes;
    case 'preview':
      return row.preview_bytes;
    case 'thumbnail':
      return row.thumbnail_bytes;
    case 'playback':
      return row.playback_bytes;
  }
};

export const contentTypeOf = (row: ImageRow, variant: Variant): string =>
  variant === 'original' ? row.media_type : variant === 'playback' ? PLAYBACK_TYPE : DERIVATIVE_TYPE;

/**
 * The name a variant is saved under: the original's own, or `<name>-<variant>.webp` (`.mp4` for a
 * video's playback copy). A HEIF original always ends in .heic/.heif (some apps hand over
 * `IMG_0001.jpg` or no extension for one): a photo app opening the download decides by that name.
 */
export const variantFilename = (row: ImageRow, variant: Variant): string =>
  variant === 'original'
    ? originalFilename(row)
    : `${row.filename.replace(/\.[^.]*$/, '')}-${variant}.${variant === 'playback' ? 'mp4' : 'webp'}`;

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

/** One storage event for each object an image has: three, and a video's playback copy once made. */
export const objectEvents = (
  row: ImageRow,
  at: number,
  operation: 'upload' | 'delete',
  status: number,
): StorageEvent[] =>
  VARIANTS.filter((variant) => variant !== 'playback' || row.playback_bytes > 0).map((variant) => ({
    at,
    user_id: row.owner_id,
    image_id: row.id,
    operation,
    object_key: objectKey(row, variant),
    bytes: variantSize(row, variant),
    status,
  }));
