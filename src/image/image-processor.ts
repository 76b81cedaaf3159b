import exifr from 'exifr';
import { fileTypeFromFile } from 'file-type';
import sharp from 'sharp';

import { estimateDecodeBytes, type DecodeEstimate, type DecodeHeader } from './decode-estimate.js';
import { DecodeGate, DEFAULT_DECODE_MEMORY_MB, defaultDecodeConcurrency, type DecodeLimits } from './decode-gate.js';
import { decodeHeif, HEIF_TYPES, keepHeifWorkers, readHeifHeader } from './heic.js';
import { HeifFormatError } from './heif-boxes.js';

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
  keepHeifWorkers(limits.concurrency);
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
  ...HEIF_TYPES,
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
  const source = await readSource(file, type.mime);
  const { width, height } = source.header;
  if (width * height > maxPixels) {
    throw new ImageRejectedError({
      reason: 'too_many_pixels',
      // Exact pixel counts: rounding to megapixels read "limit of 0 megapixels" for small limits.
      detail: `is ${width}×${height} pixels, more than the limit of ${maxPixels.toLocaleString('en-US')} pixels`,
    });
  }
  refuseIfNeverFits(source.header);
  const rotated = source.orientation >= 5 && source.orientation <= 8;
  return {
    mediaType: type.mime,
    width: rotated ? height : width,
    height: rotated ? width : height,
    orientation: source.orientation,
    takenAt: source.exif === undefined ? undefined : await readTakenAt(source.exif),
  };
}

/** What the header of an image says, and which decoder reads it. */
interface Source {
  /** Width and height as stored: before an EXIF orientation, after HEIF's own transforms. */
  header: DecodeHeader;
  /** The EXIF orientation still to apply: 1 for HEIF, whose decoder applies its own rotation. */
  orientation: number;
  decoder: 'sharp' | 'libheif';
  /** Where exifr reads the EXIF: the file itself, or the block taken out of a HEIF file. */
  exif: string | Buffer | undefined;
}

async function readSource(file: string, mime: string): Promise<Source> {
  if (HEIF_TYPES.has(mime)) {
    let heif;
    try {
      heif = await readHeifHeader(file);
    } catch (error) {
      if (error instanceof HeifFormatError && error.stillImageMissing) {
        throw new ImageRejectedError({
          reason: 'unsupported',
          detail: 'is a HEIF image sequence with no still image in it, which Pixa cannot show',
        });
      }
      throw new ImageRejectedError({ reason: 'invalid', detail: 'is damaged or incomplete and cannot be read' });
    }
    if (heif.codec === 'other') {
      throw new ImageRejectedError({ reason: 'unsupported', detail: `is ${mime} coded in a way Pixa cannot decode` });
    }
    // AV1-coded HEIF is AVIF by another name: libvips decodes it.
    if (heif.codec === 'hevc') {
      // HEIF's Exif orientation only repeats the irot/imir that libheif applies; applying it too would turn twice.
      const header: DecodeHeader = {
        format: 'heic',
        width: heif.width,
        height: heif.height,
        channels: 4,
        depth: heif.bitDepth > 8 ? 'ushort' : 'uchar',
        progressive: false,
        fileBytes: heif.fileBytes,
      };
      return { header, orientation: 1, decoder: 'libheif', exif: heif.exif };
    }
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
  const header: DecodeHeader = {
    format: meta.format ?? 'unknown',
    width: meta.width,
    height: meta.height,
    channels: meta.channels ?? 4,
    depth: meta.depth ?? 'double',
    progressive: meta.isProgressive === true,
    chromaSubsampling: meta.chromaSubsampling,
  };
  return { header, orientation: meta.orientation ?? 1, decoder: 'sharp', exif: file };
}

/**
 * Makes the thumbnail and preview with one decode: the original is decoded (with shrink-on-load) and
 * scaled once to preview size, then both WebP files are encoded from those pixels. Output is
 * auto-rotated and carries no metadata at all (sharp drops EXIF, GPS included, unless asked to keep it).
 *
 * The decode first waits for a slot and for its estimated memory in the process-wide budget.
 */
export async function makeDerivatives(file: string, maxPixels: number): Promise<Derivatives> {
  const type = await fileTypeFromFile(file);
  const source = await readSource(file, type?.mime ?? 'unknown');
  const estimate = refuseIfNeverFits(source.header);
  const release = await gate.acquire(estimate.bytes);
  try {
    return await derive(async () => {
      if (source.decoder === 'sharp') return sharp(file, { limitInputPixels: maxPixels, failOn: 'truncated' }).rotate();
      const decoded = await decodeHeif(file);
      const raw = sharp(decoded.pixels, {
        raw: { width: decoded.width, height: decoded.height, channels: 4 },
        limitInputPixels: maxPixels,
      });
      return decoded.alpha ? raw : raw.removeAlpha();
    });
  } finally {
    release();
  }
}

/** Shrinks the decoded, upright image to preview size once, then encodes both WebP files from it. */
async function derive(decode: () => Promise<sharp.Sharp>): Promise<Derivatives> {
  try {
    const { data, info } = await (
      await decode()
    )
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
function refuseIfNeverFits(header: DecodeHeader): DecodeEstimate {
  const estimate = estimateDecodeBytes(header);
  if (!gate.fits(estimate.bytes)) {
    const need = Math.ceil(estimate.bytes / MB).toLocaleString('en-US');
    const budget = Math.floor(gate.limits.memoryBytes / MB).toLocaleString('en-US');
    const advice =
      header.format === 'heic'
        ? 'Saved as a JPEG, or at a lower resolution, it decodes in far less'
        : estimate.whole
          ? 'Saved as a baseline JPEG or a non-interlaced PNG, it decodes in far less'
          : 'A smaller version can be uploaded';
    throw new ImageRejectedError({
      reason: 'too_many_pixels',
      detail:
        `is ${estimate.kind} of ${header.width}×${header.height} pixels: decoding it needs about ${need} MB of memory, ` +
        `more than the ${budget} MB this server decodes with. ${advice}`,
    });
  }
  return estimate;
}

/**
 * Runs a decode done in another process (ffmpeg, for a video's poster frame) under the same bounds as
 * this process's own: it waits for a slot and `bytes` of the budget, or is refused with a 413 when
 * even the whole budget could not hold it. `kind` names the frames in the refusal.
 */
export async function underDecodeBudget<T>(
  bytes: number,
  kind: { what: string; width: number; height: number },
  work: () => Promise<T>,
): Promise<T> {
  if (!gate.fits(bytes)) {
    const need = Math.ceil(bytes / MB).toLocaleString('en-US');
    const budget = Math.floor(gate.limits.memoryBytes / MB).toLocaleString('en-US');
    throw new ImageRejectedError({
      reason: 'too_many_pixels',
      detail:
        `has ${kind.what} of ${kind.width}×${kind.height} pixels: decoding one needs about ${need} MB of memory, ` +
        `more than the ${budget} MB this server decodes with. A version at a lower resolution can be uploaded`,
    });
  }
  const release = await gate.acquire(bytes);
  try {
    return await work();
  } finally {
    release();
  }
}

/**
 * EXIF DateTimeOriginal (or CreateDate). EXIF stores wall-clock time without a zone unless
 * OffsetTimeOriginal says; without one it is read as UTC, so the same file sorts the same on every server.
 */
async function readTakenAt(file: string | Buffer): Promise<number | undefined> {
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
