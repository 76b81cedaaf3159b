import exifr from 'exifr';
import { fileTypeFromFile } from 'file-type';
import sharp from 'sharp';

// Every image is decoded once and never again: libvips' operation cache would only hold memory.
sharp.cache(false);

/** The formats Pixa accepts, by the media type their content is sniffed as. */
export const ACCEPTED_TYPES: ReadonlySet<string> = new Set([
  'image/jpeg',
  'image/png',
  'image/webp',
  'image/gif',
  'image/avif',
  'image/tiff',
]);

export const THUMBNAIL_SIZE = 400;
export const PREVIEW_SIZE = 1600;
export const DERIVATIVE_TYPE = 'image/webp';

export interface ProbedImage {
  mediaType: string;
  width: number;
  height: number;
  /** EXIF orientation 1–8; width and height above are as displayed, after rotation. */
  orientation: number;
  /** When the photo was taken per EXIF, epoch ms, if the file says. */
  takenAt: number | undefined;
}

export interface Derivatives {
  thumbnail: Buffer;
  preview: Buffer;
}

export type ImageRejection =
  | { reason: 'unsupported'; detail: string }
  | { reason: 'invalid'; detail: string }
  | { reason: 'too_many_pixels'; detail: string };

export class ImageRejectedError extends Error {
  constructor(readonly rejection: ImageRejection) {
    super(rejection.detail);
    this.name = 'ImageRejectedError';
  }
}

/**
 * Decides what a file is from its content (magic bytes, then a header parse by libvips), never from
 * its name or declared type, and refuses images above `maxPixels` before anything decodes them.
 */
export async function probeImage(file: string, maxPixels: number): Promise<ProbedImage> {
  const type = await fileTypeFromFile(file);
  if (!type || !ACCEPTED_TYPES.has(type.mime)) {
    throw new ImageRejectedError({
      reason: 'unsupported',
      detail: type ? `is ${type.mime}, not a supported image` : 'is not a supported image',
    });
  }
  let meta: sharp.Metadata;
  try {
    meta = await sharp(file, { limitInputPixels: false }).metadata();
  } catch {
    throw new ImageRejectedError({ reason: 'invalid', detail: 'is damaged or incomplete and cannot be read' });
  }
  if (!meta.width || !meta.height) {
    throw new ImageRejectedError({ reason: 'invalid', detail: 'has no readable dimensions' });
  }
  if (meta.width * meta.height > maxPixels) {
    throw new ImageRejectedError({
      reason: 'too_many_pixels',
      // Exact pixel counts: rounding to megapixels read "limit of 0 megapixels" for small limits.
      detail: `is ${meta.width}×${meta.height} pixels, more than the limit of ${maxPixels.toLocaleString('en-US')} pixels`,
    });
  }
  const orientation = meta.orientation ?? 1;
  const rotated = orientation >= 5 && orientation <= 8;
  return {
    mediaType: type.mime,
    width: rotated ? meta.height : meta.width,
    height: rotated ? meta.width : meta.height,
    orientation,
    takenAt: await readTakenAt(file),
  };
}

/**
 * Makes the thumbnail and preview with one decode: the original is decoded (with shrink-on-load) and
 * scaled once to preview size, then both WebP files are encoded from those pixels. Output is
 * auto-rotated and carries no metadata at all (sharp drops EXIF, GPS included, unless asked to keep it).
 */
export async function makeDerivatives(file: string, maxPixels: number): Promise<Derivatives> {
  try {
    const { data, info } = await sharp(file, { limitInputPixels: maxPixels, failOn: 'truncated' })
      .rotate()
      .resize(PREVIEW_SIZE, PREVIEW_SIZE, { fit: 'inside', withoutEnlargement: true })
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    const raw = { raw: { width: info.width, height: info.height, channels: info.channels } };
    const [preview, thumbnail] = await Promise.all([
      sharp(data, raw).webp({ quality: 82, effort: 2 }).toBuffer(),
      sharp(data, raw)
        .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside', withoutEnlargement: true })
        .webp({ quality: 78, effort: 2 })
        .toBuffer(),
    ]);
    return { thumbnail, preview };
  } catch (error) {
    if (error instanceof ImageRejectedError) throw error;
    throw new ImageRejectedError({ reason: 'invalid', detail: 'is damaged or incomplete and cannot be decoded' });
  }
}

/**
 * EXIF DateTimeOriginal (or CreateDate). EXIF stores wall-clock time without a zone unless
 * OffsetTimeOriginal says; without one it is read as UTC, so the same file sorts the same on every server.
 */
async function readTakenAt(file: string): Promise<number | undefined> {
  try {
    const tags = (await exifr.parse(file, {
      pick: ['DateTimeOriginal', 'CreateDate', 'OffsetTimeOriginal'],
      reviveValues: false,
    })) as Record<string, unknown> | undefined;
    const raw = tags?.DateTimeOriginal ?? tags?.CreateDate;
    if (typeof raw !== 'string') return undefined;
    const match = /^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})/.exec(raw.trim());
    if (!match) return undefined;
    const offset = typeof tags?.OffsetTimeOriginal === 'string' ? tags.OffsetTimeOriginal.trim() : 'Z';
    const iso = `${match[1]}-${match[2]}-${match[3]}T${match[4]}:${match[5]}:${match[6]}${/^[+-]\d{2}:\d{2}$/.test(offset) ? offset : 'Z'}`;
    const ms = Date.parse(iso);
    // Cameras with an unset clock write 0000:00:00 or 1970; those say nothing about when.
    return Number.isFinite(ms) && ms > Date.UTC(1900, 0, 1) ? ms : undefined;
  } catch {
    return undefined;
  }
}
