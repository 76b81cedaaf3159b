import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';

import exifr from 'exifr';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';

import { locationStripper, stripLocation } from '../../src/image/location-strip.js';
import { exifOf, makePhoto } from '../helpers/photos.js';

const TYPES = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp' } as const;

async function pixels(bytes: Buffer): Promise<Buffer> {
  return sharp(bytes).raw().toBuffer();
}

/** Streams `bytes` through the stripper in chunks of `size`, as an object store would hand them over. */
async function streamed(bytes: Buffer, mediaType: string, size: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return buffer(Readable.from(chunks).pipe(locationStripper(mediaType)!));
}

describe('location stripping', () => {
  for (const [format, mediaType] of Object.entries(TYPES)) {
    it(`${format} › with GPS in Exif › GPS is gone, the date stays, the pixels and length are unchanged`, async () => {
      const photo = await makePhoto({
        format: format as keyof typeof TYPES,
        gps: true,
        takenAt: '2024:07:14 09:31:02',
      });
      expect((await exifr.gps(exifOf(photo)))?.latitude).toBeCloseTo(48.858, 2);

      const stripped = stripLocation(photo, mediaType)!;

      expect(stripped.length).toBe(photo.length);
      const tags = await exifr.parse(exifOf(stripped), { gps: true, tiff: true, exif: true });
      expect(tags?.GPSLatitude).toBeUndefined();
      expect(tags?.latitude).toBeUndefined();
      expect(await exifr.gps(exifOf(stripped)).catch(() => undefined)).toBeUndefined();
      expect(tags?.DateTimeOriginal).toBeInstanceOf(Date);
      expect((await pixels(stripped)).equals(await pixels(photo))).toBe(true);
    });

    it(`${format} › streamed in small chunks › the same bytes as the whole-buffer rewrite`, async () => {
      const photo = await makePhoto({ format: format as keyof typeof TYPES, gps: true, seed: 7 });
      const whole = stripLocation(photo, mediaType)!;
      for (const size of [1, 7, 4096]) expect((await streamed(photo, mediaType, size)).equals(whole)).toBe(true);
    });

    it(`${format} › without metadata › byte for byte the same`, async () => {
      const photo = await makePhoto({ format: format as keyof typeof TYPES, seed: 9 });
      expect(stripLocation(photo, mediaType)!.equals(photo)).toBe(true);
    });
  }

  it('jpeg › an XMP packet with a location › blanked into a comment', async () => {
    const photo = await makePhoto({ seed: 11 });
    const xmp = Buffer.from(
      'http://ns.adobe.com/xap/1.0/\0<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' +
        '<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="48,51.494N" exif:GPSLongitude="2,17.668E"/>' +
        '</rdf:RDF></x:xmpmeta>',
      'latin1',
    );
    const segment = Buffer.alloc(4);
    segment.writeUInt16BE(0xffe1, 0);
    segment.writeUInt16BE(xmp.length + 2, 2);
    const withXmp = Buffer.concat([photo.subarray(0, 2), segment, xmp, photo.subarray(2)]);

    const stripped = stripLocation(withXmp, 'image/jpeg')!;

    expect(stripped.length).toBe(withXmp.length);
    expect(stripped.includes(Buffer.from('GPSLatitude'))).toBe(false);
    expect((await pixels(stripped)).equals(await pixels(photo))).toBe(true);
  });

  it('jpeg › a second image appended after the first (MPF) › its GPS is gone too', async () => {
    const first = await makePhoto({ seed: 12, gps: true });
    const second = await makePhoto({ seed: 13, gps: true, width: 300, height: 200 });
    const joined = Buffer.concat([first, second]);

    const stripped = stripLocation(joined, 'image/jpeg')!;

    expect(stripped.length).toBe(joined.length);
    expect(await exifr.gps(stripped.subarray(first.length)).catch(() => undefined)).toBeUndefined();
    expect(await exifr.gps(stripped.subarray(0, first.length)).catch(() => undefined)).toBeUndefined();
    expect((await pixels(stripped.subarray(first.length))).equals(await pixels(second))).toBe(true);
    for (const size of [3, 1000]) expect((await streamed(joined, 'image/jpeg', size)).equals(stripped)).toBe(true);
  });

  it('a cut-off JPEG › the part of the Exif segment that arrived is not sent as it was', () => {
    const photo = Buffer.from([0xff, 0xd8, 0xff, 0xe1, 0x01, 0x00, ...Buffer.from('Exif\0\0MM')]);
    const stripped = stripLocation(photo, 'image/jpeg')!;
    expect(stripped.length).toBe(photo.length);
    expect(stripped.subarray(2).every((byte) => byte === 0)).toBe(true);
  });

  it('gif, avif, tiff › not handled › undefined, so a derivative is served instead', () => {
    for (const type of ['image/gif', 'image/avif', 'image/tiff']) {
      expect(locationStripper(type)).toBeUndefined();
      expect(stripLocation(Buffer.alloc(10), type)).toBeUndefined();
    }
  });
});
