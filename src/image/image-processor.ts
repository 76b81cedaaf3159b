import exifr from 'exifr';
import { fileTypeFromFile } from 'file-type';
import sharp from 'sharp';

import { estimateDecodeBytes, type DecodeEstimate } from './decode-estimate.js';
import { DecodeGate, DEFAULT_DECODE_MEMORY_MB, defaultDecodeConcurrency, type DecodeLimits } from './decode-gate.js';

// Every image is decoded once and never again: libvips' operation cache would only hold memory.
sharp.cache(false);

const MB = 1024 * 1024;

let gate = new DecodeGate({
  concurrency: defaultDecodeConcurrency(),
  memoryBytes: DEFAULT_DECODE_MEMORY_MB * MB,
});

/**
 * Sets the process-wide decode bounds (PIXA_DECODE_CONCURRENCY, PIXA_DECODE_MEMORY_MB). Decodes
 * already running finish under the bounds they started with.
 */
export function configureDecoding(limits: DecodeLimits): void {
  gate = new DecodeGate(limits);
}

/** The bounds decodes run under now. */
export const decodeLimits = (): Readonly<DecodeLimits> => gate.limits;

/** Decodes running, the bytes their estimates hold, and decodes waiting for a turn. */
export const decodeState = (): { running: number; usedBytes: number; waiting: number } => gate.state;

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
  /** Above the pixel limit, or more than the decode memory budget could ever hold: 413. */
  | { reason: 'too_many_pixels'; detail: string };

export class ImageRejectedError extends Error {
  constructor(readonly rejection: ImageRejection) {
    super(rejection.detail);
    this.name = 'ImageRejectedError';
  }
}

/**
 * Decides what a file is from its content (magic bytes, then a header parse by libvips), never from
 * its name or declared type, and refuses images above `maxPixels`, or whose decode would need more
 * memory than the whole decode budget, before anything decodes them.
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
  refuseIfNeverFits(meta);
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
 *
 * The decode first waits for a slot and for its estimated memory in the process-wide budget.
 */
export async function makeDerivatives(file: string, maxPixels: number): Promise<Derivatives> {
  let estimate: DecodeEstimate;
  try {
    const meta = await sharp(file, { limitInputPixels: false }).metadata();
    estimate = refuseIfNeverFits(meta);
  } catch (error) {
    if (error instanceof ImageRejectedError) throw error;
    throw new ImageRejectedError({ reason: 'invalid', detail: 'is damaged or incomplete and cannot be read' });
  }
  const release = await gate.acquire(estimate.bytes);
  try {
    return await derive(file, maxPixels);
  } finally {
    release();
  }
}

async function derive(file: string, maxPixels: number): Promise<Derivatives> {
  try {
    const { data, info } = await sharp(file, { limitInputPixels: maxPixels, failOn: 'truncated' })
      .rotate()
      .resize(PREVIEW_SIZE, PREVIEW_SIZE, { fit: 'inside', withoutEnlargement: true })
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    const raw = { raw: { width: info.width, height: info.height, channels: info.channels } };
    // One after the other: each sharp call holds a libuv thread, and one decode takes one thread.
    const preview = await sharp(data, raw).webp({ quality: 82, effort: 2 }).toBuffer();
    const thumbnail = await sharp(data, raw)
      .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 78, effort: 2 })
      .toBuffer();
    return { thumbnail, preview };
  } catch (error) {
    if (error instanceof ImageRejectedError) throw error;
    throw new ImageRejectedError({ reason: 'invalid', detail: 'is damaged or incomplete and cannot be decoded' });
  }
}

/** The decode's estimate, or a 413 refusal when even the whole budget could not hold it. */
function refuseIfNeverFits(meta: sharp.Metadata): DecodeEstimate {
  const estimate = estimateDecodeBytes({
    format: meta.format ?? 'unknown',
    width: meta.width ?? 0,
    height: meta.height ?? 0,
    channels: meta.channels ?? 4,
    depth: meta.depth ?? 'double',
    progressive: meta.isProgressive === true,
    chromaSubsampling: meta.chromaSubsampling,
  });
  if (!gate.fits(estimate.bytes)) {
    const need = Math.ceil(estimate.bytes / MB).toLocaleString('en-US');
    const budget = Math.floor(gate.limits.memoryBytes / MB).toLocaleString('en-US');
    throw new ImageRejectedError({
      reason: 'too_many_pixels',
      detail:
        `is ${estimate.kind} of ${meta.width}×${meta.height} pixels: decoding it needs about ${need} MB of memory, ` +
        `more than the ${budget} MB this server decodes with. ` +
        (estimate.whole
          ? 'Saved as a baseline JPEG or a non-interlaced PNG, it decodes in far less'
          : 'A smaller version can be uploaded'),
    });
  }
  return estimate;
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
