import { Transform, type TransformCallback } from 'node:stream';
import { crc32 } from 'node:zlib';

import { HeifFormatError, readHeifMeta } from './heif-boxes.js';

/**
 * Removing the location from an original without touching its pixels: the metadata segments are
 * rewritten in place, so the file keeps its exact length (the answer's Content-Length and the
 * transfer charged stay those of the original) and every byte of image data passes through as it
 * is. The GPS IFD of the Exif block is emptied (its entries and values zeroed); XMP packets, which
 * may repeat the location, are blanked. Only metadata segments are held in memory, each at most
 * MAX_SEGMENT_BYTES (a JPEG segment is at most 64 KB anyway); a larger one is blanked as it streams.
 *
 * JPEG: APP1 Exif and XMP segments, of the image and of any image appended after it. PNG: eXIf, and XMP or "Raw profile"
 * text chunks (their CRC recomputed). WebP: EXIF and XMP chunks. HEIC/HEIF: see heifLocationPatches.
 * Other formats are not handled: `locationStripper` answers undefined for them and callers serve a
 * derivative instead.
 */
const MAX_SEGMENT_BYTES = 1024 * 1024;

/** The media types whose originals can be served without their location. */
export const LOCATION_STRIPPABLE = ['image/jpeg', 'image/png', 'image/webp'] as const;

/**
 * HEIC/HEIF: the Exif is an item that `iloc` may put anywhere in the file, so its place is found
 * before the file is streamed (heifLocationPatches) and the stream overwrites those bytes
 * (locationPatcher). The GPS IFD is emptied in place as for JPEG; XMP (`mime`) items are blanked.
 */
export const LOCATION_PATCHABLE = ['image/heic', 'image/heif'] as const;

/** Bytes to write over the file's own at `offset` (same length). */
export interface BytePatch {
  offset: number;
  bytes: Buffer;
}

/** Reads `length` bytes of the file from `start` (never past its end). */
export type ReadFileBytes = (start: number, length: number) => Promise<Buffer>;

/** Boxes before `meta` looked at, at most (ftyp, then meta, in every HEIC seen). */
const MAX_BOXES_BEFORE_META = 16;

/**
 * The patches that remove a HEIC's location, or undefined when its structure cannot be read within
 * the bounds (a `meta` ending past MAX_SEGMENT_BYTES, an Exif item larger than that, items in an
 * unknown place): the caller serves the preview instead. An empty list: nothing to remove.
 */
export async function heifLocationPatches(read: ReadFileBytes, size: number): Promise<BytePatch[] | undefined> {
  let at = 0;
  let metaEnd: number | undefined;
  for (let boxes = 0; boxes < MAX_BOXES_BEFORE_META && at + 8 <= size; boxes++) {
    const head = await read(at, Math.min(16, size - at));
    const size32 = head.readUInt32BE(0);
    const type = head.toString('latin1', 4, 8);
    const length =
      size32 === 1 && head.length >= 16 ? Number(head.readBigUInt64BE(8)) : size32 === 0 ? size - at : size32;
    if (length < 8 || at + length > size) return undefined;
    if (type === 'meta') {
      metaEnd = at + length;
      break;
    }
    at += length;
  }
  if (metaEnd === undefined || metaEnd > MAX_SEGMENT_BYTES) return undefined;
  const head = await read(0, metaEnd);
  let meta;
  try {
    meta = readHeifMeta(head);
  } catch (error) {
    if (error instanceof HeifFormatError || error instanceof RangeError) return undefined;
    throw error;
  }
  const patches: BytePatch[] = [];
  for (const [id, type] of meta.items) {
    if (type !== 'Exif' && type !== 'mime') continue;
    const location = meta.locations.get(id);
    if (!location) continue;
    const base = location.method === 0 ? 0 : location.method === 1 && meta.idat ? meta.idat.offset : undefined;
    if (base === undefined) return undefined;
    const extents = location.extents.map((extent) => ({
      offset: base + location.baseOffset + extent.offset,
      length: extent.length,
    }));
    const total = extents.reduce((sum, extent) => sum + extent.length, 0);
    if (total > MAX_SEGMENT_BYTES || extents.some((e) => e.length === 0 || e.offset + e.length > size))
      return undefined;
    const item = Buffer.concat(await Promise.all(extents.map((extent) => read(extent.offset, extent.length))));
    if (type === 'mime') item.fill(0x20);
    else {
      // 4 bytes: where the TIFF header starts after them ("Exif\0\0" usually comes first).
      const tiffAt = item.length >= 4 ? 4 + item.readUInt32BE(0) : item.length;
      if (tiffAt >= item.length || !clearGps(item.subarray(tiffAt))) item.fill(0);
    }
    let from = 0;
    for (const extent of extents) {
      patches.push({ offset: extent.offset, bytes: item.subarray(from, from + extent.length) });
      from += extent.length;
    }
  }
  return patches.sort((a, b) => a.offset - b.offset);
}

/** A stream over the file's bytes from `start` that writes `patches` over them where they fall. */
export function locationPatcher(patches: readonly BytePatch[], start: number): Transform {
  let position = start;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      const end = position + chunk.length;
      let out: Buffer | undefined;
      for (const patch of patches) {
        const from = Math.max(patch.offset, position);
        const to = Math.min(patch.offset + patch.bytes.length, end);
        if (from >= to) continue;
        out ??= Buffer.from(chunk);
        patch.bytes.copy(out, from - position, from - patch.offset, to - patch.offset);
      }
      position = end;
      callback(null, out ?? chunk);
    },
  });
}

/** A stream that rewrites an original of `mediaType` without its location, or undefined for other types. */
export function locationStripper(mediaType: string): Transform | undefined {
  const planner = plannerOf(mediaType);
  if (!planner) return undefined;
  // The rewrite pushes into the transform, made just below; it is first fed once both exist.
  // eslint-disable-next-line prefer-const
  let rewriting: Rewriting;
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      rewriting.write(chunk);
      callback();
    },
    flush(callback: TransformCallback) {
      rewriting.end();
      callback();
    },
  });
  rewriting = new Rewriting(planner, (bytes) => transform.push(bytes));
  return transform;
}

/** The same rewrite over a whole buffer (a copy; the input is left alone). */
export function stripLocation(bytes: Buffer, mediaType: string): Buffer | undefined {
  const planner = plannerOf(mediaType);
  if (!planner) return undefined;
  const out: Buffer[] = [];
  const rewriting = new Rewriting(planner, (chunk) => out.push(chunk));
  rewriting.write(Buffer.from(bytes));
  rewriting.end();
  return Buffer.concat(out);
}

function plannerOf(mediaType: string): Planner | undefined {
  switch (mediaType) {
    case 'image/jpeg':
      return jpegPlanner();
    case 'image/png':
      return pngPlanner();
    case 'image/webp':
      return webpPlanner();
    default:
      return undefined;
  }
}

/** What to do with the next bytes of the file. Every action keeps the length of what it replaces. */
type Action =
  | { pass: number }
  | { fill: number; byte: number }
  /** Holds exactly `length` bytes (at most MAX_SEGMENT_BYTES + a header) and writes `rewrite` of them. */
  | { hold: number; rewrite: (bytes: Buffer) => Buffer }
  | { passRest: true };

/**
 * Looks at the bytes at the current position (at least what it last asked for, or all that is left)
 * and answers the next actions, or how many bytes it needs to decide.
 */
type Planner = (head: Buffer) => Action[] | number;

/** The rewrite of one file, fed its bytes in order; `emit` gets the output in order. */
class Rewriting {
  private buffered: Buffer = Buffer.alloc(0);
  private actions: Action[] = [];
  private passingRest = false;

  constructor(
    private readonly planner: Planner,
    private readonly push: (bytes: Buffer) => void,
  ) {}

  write(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    this.run(false);
  }

  end(): void {
    this.run(true);
    // A file cut off inside a segment being rewritten: what is left of it is not sent as it was.
    if (this.buffered.length > 0) this.push(Buffer.alloc(this.buffered.length));
    this.buffered = Buffer.alloc(0);
  }

  private take(length: number): Buffer {
    const taken = this.buffered.subarray(0, length);
    this.buffered = this.buffered.subarray(length);
    return taken;
  }

  private run(ended: boolean): void {
    for (;;) {
      if (this.passingRest) {
        if (this.buffered.length > 0) this.push(this.take(this.buffered.length));
        return;
      }
      const action = this.actions[0];
      if (!action) {
        if (this.buffered.length === 0) return;
        const plan = this.planner(this.buffered);
        if (typeof plan === 'number') {
          if (this.buffered.length >= plan) throw new Error('location planner asked for bytes it had');
          if (!ended) return;
          // The file ends before the planner could decide: it is no structure it knows, pass it on.
          this.passingRest = true;
          continue;
        }
        this.actions.push(...plan);
        continue;
      }
      if ('passRest' in action) {
        this.passingRest = true;
        this.actions = [];
        continue;
      }
      if ('hold' in action) {
        if (this.buffered.length < action.hold) return;
        this.push(action.rewrite(Buffer.from(this.take(action.hold))));
        this.actions.shift();
        continue;
      }
      const wanted = 'pass' in action ? action.pass : action.fill;
      const length = Math.min(wanted, this.buffered.length);
      if (length === 0) return;
      const bytes = this.take(length);
      this.push('pass' in action ? bytes : Buffer.alloc(length, action.byte));
      if (length === wanted) this.actions.shift();
      else if ('pass' in action) action.pass -= length;
      else action.fill -= length;
    }
  }
}

// JPEG ----------------------------------------------------------------------------------------------

const EXIF_ID = Buffer.from('Exif\0\0', 'latin1');
const XMP_ID = Buffer.from('http://ns.adobe.com/', 'latin1');

/**
 * JPEG: segments are read up to each scan (SOS); the entropy-coded data after it is scanned for the
 * next marker (in it, 0xFF is always followed by 0x00 or a restart marker), so the images a phone
 * appends after the first one's EOI (MPF: a larger preview, a depth map) lose their Exif GPS too.
 */
function jpegPlanner(): Planner {
  let state: 'start' | 'segments' | 'scan' = 'start';
  return (head) => {
    if (state === 'start') {
      if (head.length < 2) return 2;
      if (head[0] !== 0xff || head[1] !== 0xd8) return [{ passRest: true }];
      state = 'segments';
      return [{ pass: 2 }];
    }
    if (state === 'scan') {
      const at = head.indexOf(0xff);
      if (at < 0) return [{ pass: head.length }];
      if (at > 0) return [{ pass: at }];
      if (head.length < 2) return 2;
      const next = head[1]!;
      if (next === 0x00 || (next >= 0xd0 && next <= 0xd7)) return [{ pass: 2 }];
      if (next === 0xff) return [{ pass: 1 }];
      state = 'segments';
      return [];
    }
    if (head.length < 2) return 2;
    if (head[0] !== 0xff) {
      state = 'scan';
      return [];
    }
    const marker = head[1]!;
    if (marker === 0xff) return [{ pass: 1 }]; // a fill byte
    // Standalone markers have no length; after an EOI may come another image, or nothing.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) return [{ pass: 2 }];
    if (marker === 0xd9) {
      state = 'scan';
      return [{ pass: 2 }];
    }
    if (head.length < 4) return 4;
    const length = head.readUInt16BE(2);
    if (length < 2) {
      state = 'scan';
      return [{ pass: 2 }];
    }
    if (marker === 0xda) {
      state = 'scan';
      return [{ pass: 2 + length }];
    }
    if (marker !== 0xe1) return [{ pass: 2 + length }];
    return [{ hold: 2 + length, rewrite: rewriteJpegApp1 }];
  };
}

function rewriteJpegApp1(segment: Buffer): Buffer {
  const payload = segment.subarray(4);
  if (startsWith(payload, EXIF_ID)) {
    if (clearGps(payload.subarray(EXIF_ID.length))) return segment;
  } else if (!startsWith(payload, XMP_ID)) {
    return segment;
  }
  // XMP (it may repeat the location), or Exif that could not be read: a comment of spaces instead.
  segment[1] = 0xfe;
  payload.fill(0x20);
  return segment;
}

// PNG -----------------------------------------------------------------------------------------------

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** What a blanked chunk is renamed to: ancillary, private, not safe to copy; readers skip it. */
const BLANK_PNG_TYPE = Buffer.from('pxLR', 'latin1');
const PNG_METADATA = new Set(['eXIf', 'iTXt', 'tEXt', 'zTXt']);

function pngPlanner(): Planner {
  let started = false;
  return (head) => {
    if (!started) {
      if (head.length < 8) return 8;
      started = true;
      return startsWith(head, PNG_SIGNATURE) ? [{ pass: 8 }] : [{ passRest: true }];
    }
    if (head.length < 8) return 8;
    const length = head.readUInt32BE(0);
    const type = head.toString('latin1', 4, 8);
    if (type === 'IEND') return [{ passRest: true }];
    if (!PNG_METADATA.has(type)) return [{ pass: 12 + length }];
    if (length <= MAX_SEGMENT_BYTES) return [{ hold: 12 + length, rewrite: rewritePngChunk }];
    // Too large to hold: blanked as it streams, under a name readers skip, with the blank's CRC.
    const header = Buffer.concat([head.subarray(0, 4), BLANK_PNG_TYPE]);
    return [
      { hold: 8, rewrite: () => header },
      { fill: length, byte: 0 },
      { hold: 4, rewrite: () => u32be(crcOfBlank(length)) },
    ];
  };
}

function rewritePngChunk(chunk: Buffer): Buffer {
  const type = chunk.toString('latin1', 4, 8);
  const data = chunk.subarray(8, chunk.length - 4);
  let blank: boolean;
  if (type === 'eXIf') {
    blank = !clearGps(startsWith(data, EXIF_ID) ? data.subarray(EXIF_ID.length) : data);
  } else {
    const end = data.indexOf(0);
    const keyword = data.toString('latin1', 0, end < 0 ? Math.min(data.length, 80) : end);
    blank = keyword === 'XML:com.adobe.xmp' || /^raw profile type/i.test(keyword);
    if (!blank) return chunk;
  }
  if (blank) {
    BLANK_PNG_TYPE.copy(chunk, 4);
    data.fill(0);
  }
  chunk.writeUInt32BE(crc32(chunk.subarray(4, chunk.length - 4)) >>> 0, chunk.length - 4);
  return chunk;
}

function crcOfBlank(length: number): number {
  let crc = crc32(BLANK_PNG_TYPE);
  const zeros = Buffer.alloc(Math.min(length, 64 * 1024));
  for (let left = length; left > 0; left -= zeros.length)
    crc = crc32(zeros.subarray(0, Math.min(left, zeros.length)), crc);
  return crc >>> 0;
}

// WebP ----------------------------------------------------------------------------------------------

function webpPlanner(): Planner {
  let started = false;
  return (head) => {
    if (!started) {
      if (head.length < 12) return 12;
      started = true;
      const riff = head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WEBP';
      return riff ? [{ pass: 12 }] : [{ passRest: true }];
    }
    if (head.length < 8) return 8;
    const fourcc = head.toString('latin1', 0, 4);
    const size = head.readUInt32LE(4);
    const padded = size + (size & 1);
    if (fourcc === 'EXIF' && padded <= MAX_SEGMENT_BYTES) {
      return [{ hold: 8 + padded, rewrite: rewriteWebpExif }];
    }
    // XMP, or Exif too large to hold: spaces (an empty XMP packet) or zeros in its place.
    if (fourcc === 'XMP ') return [{ pass: 8 }, { fill: padded, byte: 0x20 }];
    if (fourcc === 'EXIF') return [{ pass: 8 }, { fill: padded, byte: 0 }];
    return [{ pass: 8 + padded }];
  };
}

function rewriteWebpExif(chunk: Buffer): Buffer {
  const data = chunk.subarray(8);
  if (!clearGps(startsWith(data, EXIF_ID) ? data.subarray(EXIF_ID.length) : data)) data.fill(0);
  return chunk;
}

// Exif (TIFF structure) -----------------------------------------------------------------------------

const GPS_IFD_POINTER = 0x8825;
/** Bytes per value of each TIFF field type. */
const TYPE_SIZES: Readonly<Record<number, number>> = {
  1: 1,
  2: 1,
  3: 2,
  4: 4,
  5: 8,
  6: 1,
  7: 1,
  8: 2,
  9: 4,
  10: 8,
  11: 4,
  12: 8,
  13: 4,
};

/**
 * Empties every GPS IFD that the IFD chain points to, in place: its entries and their values are
 * zeroed and its entry count set to 0, so readers find a GPS block with nothing in it. False when
 * the structure cannot be read (the caller then blanks the whole block).
 */
function clearGps(tiff: Buffer): boolean {
  if (tiff.length < 8) return false;
  const order = tiff.toString('latin1', 0, 2);
  if (order !== 'II' && order !== 'MM') return false;
  const le = order === 'II';
  const u16 = (at: number) => (le ? tiff.readUInt16LE(at) : tiff.readUInt16BE(at));
  const u32 = (at: number) => (le ? tiff.readUInt32LE(at) : tiff.readUInt32BE(at));
  if (u16(2) !== 42) return false;

  /** The IFD at `at` if it lies inside the block: its entry count. */
  const ifdAt = (at: number): number | undefined => {
    if (at < 8 || at + 2 > tiff.length) return undefined;
    const count = u16(at);
    return at + 2 + count * 12 + 4 <= tiff.length ? count : undefined;
  };

  const seen = new Set<number>();
  let at = u32(4);
  // IFD0 and IFD1 (the thumbnail's); a few more in case, never a loop.
  for (let ifds = 0; at !== 0 && ifds < 8; ifds++) {
    if (seen.has(at)) return false;
    seen.add(at);
    const count = ifdAt(at);
    if (count === undefined) return false;
    for (let i = 0; i < count; i++) {
      const entry = at + 2 + i * 12;
      if (u16(entry) === GPS_IFD_POINTER && !emptyIfd(u32(entry + 8))) return false;
    }
    at = u32(at + 2 + count * 12);
  }
  return true;

  function emptyIfd(gps: number): boolean {
    const count = ifdAt(gps);
    if (count === undefined) return false;
    for (let i = 0; i < count; i++) {
      const entry = gps + 2 + i * 12;
      const bytes = (TYPE_SIZES[u16(entry + 2)] ?? 1) * u32(entry + 4);
      if (bytes > 4) {
        const value = u32(entry + 8);
        if (value + bytes <= tiff.length) tiff.fill(0, value, value + bytes);
      }
    }
    tiff.fill(0, gps, gps + 2 + count * 12 + 4);
    return true;
  }
}

const startsWith = (bytes: Buffer, prefix: Buffer): boolean =>
  bytes.length >= prefix.length && bytes.subarray(0, prefix.length).equals(prefix);

function u32be(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value >>> 0);
  return out;
}
