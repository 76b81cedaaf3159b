/**
 * What the header of an image says about the memory its decode needs. Measured on sharp 0.34.5
 * (libvips 8.17.3) with Pixa's derivative pipeline, peak RSS growth of a fresh process (see
 * docs/BENCHMARKS.md, "Decode memory"): the model errs high, never low, on every case measured.
 */
export interface DecodeHeader {
  format: string;
  width: number;
  height: number;
  /** Bands per pixel as stored (3 for RGB, 4 with alpha). */
  channels: number;
  /** libvips band format: uchar, ushort, float, ... */
  depth: string;
  /** Interlaced PNG, progressive JPEG. */
  progressive: boolean;
  /** JPEG chroma subsampling as sharp reports it: '4:2:0', '4:4:4', ... */
  chromaSubsampling?: string | undefined;
  /** The file's size: a HEIC's whole file is copied into the WebAssembly heap to decode. */
  fileBytes?: number | undefined;
}

export interface DecodeEstimate {
  bytes: number;
  /** True when the decoder holds the whole image in memory, not a window of lines. */
  whole: boolean;
  /** Names the kind of file in a refusal: "an interlaced 16-bit PNG". */
  kind: string;
}

const MB = 1024 * 1024;

/** A HEIC decode's worker: a V8 isolate, the libheif module and its first heap (measured ~35 MB). */
export const HEIF_WORKER_BYTES = 48 * MB;

/**
 * Every decode's floor: the preview's pixels (1600×1600×4), both WebP encoders and libvips'
 * per-thread buffers. Baseline JPEG, WebP and TIFF stayed within 20–32 MB from 1 to 96 MP.
 */
export const DECODE_FLOOR_BYTES = 32 * MB;

/**
 * Lines of the full-width image that a streaming decode keeps while it shrinks to preview size:
 * the largest seen was about 1,650 lines (a 12000×8000 RGBA PNG), so 2,000.
 */
const WINDOW_LINES = 2000;

/** The side derivatives are made at; shrink-on-load decodes only as much as this needs. */
const PREVIEW_SIDE = 1600;

const BYTES_PER_BAND: Readonly<Record<string, number>> = {
  uchar: 1,
  char: 1,
  ushort: 2,
  short: 2,
  uint: 4,
  int: 4,
  float: 4,
  complex: 8,
  double: 8,
  dpcomplex: 16,
};

/**
 * Bytes a decode of this image needs at its peak: the floor, plus the whole image ×N for formats
 * libvips decodes through a whole-image buffer, or a window of full-width lines for the rest.
 *
 * - interlaced PNG: libspng de-interlaces into one buffer, measured 1.07–1.18× width×height×bands×bytes
 * - GIF: libnsgif draws into an RGBA frame (4 bytes a pixel whatever the palette), measured 1.1–1.3×
 * - AVIF/HEIF: libheif holds the YUV planes and the RGB result, measured 5.2–5.6×
 * - progressive JPEG: libjpeg keeps every DCT coefficient, 2 bytes a sample, whatever shrink-on-load does
 * - HEIC: libheif in WebAssembly in a worker thread holds the file, the YUV planes and the RGBA result
 *   in its heap, and hands a copy of the RGBA to sharp: measured 11.4–12.3 bytes a pixel at 3, 12 and
 *   48 MP (8-bit), plus the worker's own start-up memory; 9 + 3 × bytes a sample errs high.
 */
export function estimateDecodeBytes(header: DecodeHeader): DecodeEstimate {
  const { width, height } = header;
  const bands = Math.max(1, header.channels);
  const bytesPerBand = BYTES_PER_BAND[header.depth] ?? 8;
  const bits = `${bytesPerBand * 8}-bit`;
  const pixels = width * height;
  const raw = pixels * bands * bytesPerBand;
  const whole = (factor: number, kind: string): DecodeEstimate => ({
    bytes: Math.ceil(DECODE_FLOOR_BYTES + raw * factor),
    whole: true,
    kind,
  });

  switch (header.format) {
    case 'png':
      if (header.progressive) return whole(1.25, `an interlaced ${bits} PNG`);
      break;
    case 'gif':
      return { bytes: Math.ceil(DECODE_FLOOR_BYTES + pixels * 4 * 1.5), whole: true, kind: 'a GIF' };
    case 'heif':
    case 'avif':
      return whole(6.5, `${article(bits)} ${bits} AVIF/HEIF image`);
    case 'heic':
      return {
        bytes: Math.ceil(
          DECODE_FLOOR_BYTES + HEIF_WORKER_BYTES + (header.fileBytes ?? 0) + pixels * (9 + 3 * bytesPerBand),
        ),
        whole: true,
        kind: `${article(bits)} ${bits} HEIC image`,
      };
    case 'jpeg':
      if (header.progressive) {
        return {
          bytes: Math.ceil(DECODE_FLOOR_BYTES + pixels * 2 * jpegSamplesPerPixel(bands, header.chromaSubsampling)),
          whole: true,
          kind: 'a progressive JPEG',
        };
      }
      break;
  }
  // Streaming decoders: JPEG and WebP shrink on load by up to 8, so their lines are that much narrower.
  const shrinkOnLoad =
    header.format === 'jpeg' || header.format === 'webp'
      ? Math.min(8, 2 ** Math.floor(Math.log2(Math.max(1, Math.max(width, height) / PREVIEW_SIDE))))
      : 1;
  const window = (width / shrinkOnLoad) * bands * bytesPerBand * Math.min(height / shrinkOnLoad, WINDOW_LINES);
  return {
    bytes: Math.ceil(DECODE_FLOOR_BYTES + window),
    whole: false,
    kind: `${article(bits)} ${bits} ${header.format.toUpperCase()}`,
  };
}

/** "an 8-bit", "a 16-bit". */
const article = (word: string): string => (/^(8|11|18)/.test(word) ? 'an' : 'a');

/** Samples a progressive JPEG stores per pixel: luma plus the subsampled chroma (1.5 for 4:2:0). */
function jpegSamplesPerPixel(bands: number, subsampling: string | undefined): number {
  const match = /^4:(\d):(\d)/.exec(subsampling ?? '');
  if (!match || bands < 3) return bands;
  const chroma = (Number(match[1]) + Number(match[2])) / 8;
  return 1 + 2 * chroma + (bands - 3);
}

/** An ffmpeg process decoding one frame for a poster, before any pixel: its libraries and buffers. */
const VIDEO_FRAME_FLOOR_BYTES = 72 * MB;
/**
 * Per pixel of a video frame: the decoder's reference frames (HEVC keeps up to 16) and its two
 * threads' frames in flight, at 10 bits per sample. Measured with `/usr/bin/time -f %M` around
 * `ffmpeg -threads 2 … -frames:v 1` (2026-11-30): 1080p HEVC 98 MB, 4K HEVC 182 MB, 4K 10-bit HEVC
 * 267 MB; 72 MB + 24 bytes per pixel covers each.
 */
const VIDEO_FRAME_BYTES_PER_PIXEL = 24;

/** What extracting one frame of a `width` × `height` video holds, in ffmpeg's own process. */
export function estimateVideoFrameBytes(width: number, height: number): number {
  return VIDEO_FRAME_FLOOR_BYTES + width * height * VIDEO_FRAME_BYTES_PER_PIXEL;
}
