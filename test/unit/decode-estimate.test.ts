import { describe, expect, test } from 'vitest';

import { DECODE_FLOOR_BYTES, estimateDecodeBytes, type DecodeHeader } from '../../src/image/decode-estimate.js';

const MB = 1024 * 1024;
const header = (over: Partial<DecodeHeader>): DecodeHeader => ({
  format: 'png',
  width: 6000,
  height: 4000,
  channels: 3,
  depth: 'uchar',
  progressive: false,
  ...over,
});
const mb = (over: Partial<DecodeHeader>) => Math.round(estimateDecodeBytes(header(over)).bytes / MB);

describe('decode memory estimate', () => {
  test('an interlaced PNG is decoded whole: width × height × bands × bytes per band, × 1.25', () => {
    const estimate = estimateDecodeBytes(header({ channels: 4, depth: 'ushort', progressive: true }));
    expect(estimate.whole).toBe(true);
    expect(estimate.kind).toBe('an interlaced 16-bit PNG');
    expect(estimate.bytes).toBe(DECODE_FLOOR_BYTES + 6000 * 4000 * 4 * 2 * 1.25);
  });

  test('measured peaks stay below the estimate (24 MP, sharp 0.34.5, docs/BENCHMARKS.md)', () => {
    // [header, measured RSS growth in MB]
    const measured: [Partial<DecodeHeader>, number][] = [
      [{ channels: 4, depth: 'ushort', progressive: true }, 251],
      [{ progressive: true }, 90],
      [{ channels: 4, depth: 'ushort' }, 97],
      [{}, 32],
      [{ format: 'gif', channels: 4 }, 149],
      [{ format: 'heif' }, 431],
      [{ format: 'jpeg', progressive: true, chromaSubsampling: '4:2:0' }, 86],
      [{ format: 'jpeg' }, 25],
      [{ format: 'webp' }, 19],
      [{ format: 'tiff' }, 32],
      [{ width: 100_000, height: 1000 }, 246],
      [{ width: 12_000, height: 8000, channels: 4 }, 103],
    ];
    for (const [over, growth] of measured) expect(mb(over), JSON.stringify(over)).toBeGreaterThan(growth);
  });

  test('HEIC (libheif in WebAssembly, in a worker) stays above the peaks measured at 12 and 48 MP', () => {
    const heic = (width: number, height: number, fileBytes: number, depth = 'uchar') =>
      mb({ format: 'heic', width, height, channels: 4, depth, fileBytes });
    // Peak RSS growth of makeDerivatives in a fresh process (docs/BENCHMARKS.md, HEIC).
    expect(heic(4032, 3024, 895_554)).toBeGreaterThan(164);
    expect(heic(8000, 6000, 62_501)).toBeGreaterThan(555);
    // 10-bit YUV planes take twice the bytes of 8-bit ones.
    expect(heic(4032, 3024, 0, 'ushort')).toBeGreaterThan(heic(4032, 3024, 0));
    expect(estimateDecodeBytes(header({ format: 'heic', channels: 4 })).kind).toBe('an 8-bit HEIC image');
  });

  test('streaming decoders are bounded by a window of lines, not by the image', () => {
    expect(estimateDecodeBytes(header({})).whole).toBe(false);
    // Twice the height, same width: the same window.
    expect(mb({ height: 8000 })).toBe(mb({ height: 4000 }));
    // JPEG shrinks on load: a 96 MP baseline JPEG costs little more than the floor.
    expect(mb({ format: 'jpeg', width: 12_000, height: 8000 })).toBeLessThan(60);
  });

  test('a progressive JPEG keeps 2 bytes for every sample: 4:4:4 costs twice 4:2:0', () => {
    const at = (chromaSubsampling: string) =>
      estimateDecodeBytes(header({ format: 'jpeg', progressive: true, chromaSubsampling })).bytes - DECODE_FLOOR_BYTES;
    expect(at('4:2:0')).toBe(6000 * 4000 * 2 * 1.5);
    expect(at('4:4:4')).toBe(2 * at('4:2:0'));
  });

  test('a GIF is an RGBA frame whatever its palette', () => {
    expect(mb({ format: 'gif', channels: 3 })).toBe(mb({ format: 'gif', channels: 4 }));
  });
});
