import { createHash } from 'node:crypto';
import { crc32, deflateSync } from 'node:zlib';

import sharp from 'sharp';

export interface PhotoOptions {
  width?: number;
  height?: number;
  /** EXIF DateTimeOriginal as `YYYY:MM:DD HH:MM:SS`. */
  takenAt?: string;
  /** Add GPS coordinates to the EXIF, to check they are stripped from derivatives. */
  gps?: boolean;
  /** EXIF orientation 1–8 (JPEG only): 6 means "rotate 90° clockwise to display". */
  orientation?: number;
  /** Seed for the picture, so different photos have different bytes. */
  seed?: number;
  /** Cover the picture with random noise, so it compresses like a detailed photo (large files). */
  noise?: boolean;
  format?: 'jpeg' | 'png' | 'webp' | 'gif' | 'avif' | 'tiff';
}

/**
 * A real photo-like image made by sharp: a gradient with shapes and noise (so it compresses like a
 * photo, not like a flat colour), optionally with EXIF date, GPS and orientation.
 */
export async function makePhoto(options: PhotoOptions = {}): Promise<Buffer> {
  const { width = 1200, height = 800, seed = 1, format = 'jpeg' } = options;
  const hue = (seed * 47) % 360;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
      <stop offset="0" stop-color="hsl(${hue},70%,55%)"/><stop offset="1" stop-color="hsl(${(hue + 120) % 360},60%,35%)"/>
    </linearGradient></defs>
    <rect width="100%" height="100%" fill="url(#g)"/>
    <circle cx="${(seed * 97) % width}" cy="${(seed * 53) % height}" r="${Math.min(width, height) / 4}" fill="hsl(${(hue + 200) % 360},80%,60%)" opacity="0.7"/>
    <rect x="${width / 5}" y="${height / 2}" width="${width / 3}" height="${height / 4}" fill="white" opacity="0.4"/>
  </svg>`;
  let image = sharp(Buffer.from(svg)).blur(0.3);
  if (options.noise) {
    const noise = await sharp({
      create: { width, height, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } },
    })
      .png()
      .toBuffer();
    image = sharp(await image.png().toBuffer()).composite([{ input: noise, blend: 'overlay' }]);
  }
  const ifd: Record<string, Record<string, string>> = {};
  if (options.takenAt) ifd.IFD0 = { DateTime: options.takenAt };
  if (options.takenAt) ifd.IFD2 = { DateTimeOriginal: options.takenAt };
  if (options.gps) {
    ifd.IFD3 = {
      GPSLatitudeRef: 'N',
      GPSLatitude: '48/1 51/1 2964/100',
      GPSLongitudeRef: 'E',
      GPSLongitude: '2/1 17/1 4008/100',
    };
  }
  if (Object.keys(ifd).length > 0) image = image.withExif(ifd);
  if (options.orientation !== undefined) image = image.withMetadata({ orientation: options.orientation });
  switch (format) {
    case 'png':
      return image.png().toBuffer();
    case 'webp':
      return image.webp().toBuffer();
    case 'gif':
      return image.gif().toBuffer();
    case 'avif':
      return image.avif({ effort: 0 }).toBuffer();
    case 'tiff':
      return image.tiff().toBuffer();
    case 'jpeg':
      return image.jpeg({ quality: 90 }).toBuffer();
  }
}

/** The smallest SVG that draws something: a real image format Pixa must refuse. */
export const SVG_IMAGE = Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="red"/></svg>',
);

/**
 * A PNG whose header claims `width`×`height` pixels but whose pixel data is a few bytes: a
 * decompression bomb in miniature. Only a check of the header, before decoding, can refuse it cleanly.
 * By default 8-bit RGB, not interlaced; `interlaced16` makes it 16-bit RGBA with Adam7 interlace,
 * which libvips decodes through a whole-image buffer.
 */
export function pngClaiming(width: number, height: number, kind: 'rgb8' | 'interlaced16' = 'rgb8'): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  // Bit depth, colour type (2 RGB, 6 RGBA), compression, filter, interlace (1 Adam7).
  ihdr.set(kind === 'rgb8' ? [8, 2, 0, 0, 0] : [16, 6, 0, 0, 1], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(kind === 'rgb8' ? 1 + 3 * Math.min(width, 64) : 1 + 8))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export const sha256 = (data: Buffer | Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** What exifr reads: the file itself, or for WebP (which exifr does not open) its EXIF chunk's TIFF block. */
export function exifOf(bytes: Buffer): Buffer {
  if (bytes.toString('latin1', 8, 12) !== 'WEBP') return bytes;
  for (let at = 12; at + 8 <= bytes.length;) {
    const size = bytes.readUInt32LE(at + 4);
    if (bytes.toString('latin1', at, at + 4) === 'EXIF') {
      const data = bytes.subarray(at + 8, at + 8 + size);
      return data.toString('latin1', 0, 4) === 'Exif' ? data.subarray(6) : data;
    }
    at += 8 + size + (size & 1);
  }
  throw new Error('no EXIF chunk');
}
