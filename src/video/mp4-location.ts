import { Transform, type TransformCallback } from 'node:stream';

/**
 * Removing the location from an MP4 or QuickTime file without re-encoding and without changing its
 * length: the boxes that may hold it get their 4-byte type renamed to `free`, which every player
 * skips. The file keeps its exact length, so its byte ranges, Content-Length and the transfer charged
 * stay those of the original, and a Range request of the rewritten file is the same range of the
 * original with a few bytes overwritten.
 *
 * Renamed: every `udta` and `meta` box at the top level, under `moov` and under each `trak`, and XMP
 * `uuid` boxes there. Phones write the location in many shapes: QuickTime `udta/©xyz`, 3GPP
 * `udta/loci`, Apple's `meta` keys (`com.apple.quicktime.location.ISO6709`, its accuracy, a place
 * name), XMP. Keeping the rest of those boxes (title, make, model) would mean knowing every shape;
 * a player needs none of them (rotation lives in `tkhd`, chapters in tracks), so none is kept.
 * Not removed: location carried as a timed-metadata track (GoPro's GPMF), which is media data.
 */

/** A `moov` larger than this is not read: the caller serves something else instead. */
export const MAX_MOOV_BYTES = 64 * 1024 * 1024;
/** Top-level boxes walked at most: a real file has a handful, a forged one could have millions. */
const MAX_TOP_LEVEL_BOXES = 10_000;

/** The media types whose location this module removes. */
export const MP4_LOCATION_STRIPPABLE = ['video/mp4', 'video/quicktime'] as const;

/** Reads `length` bytes of the file from `start` (never past its end). */
export type ReadBytes = (start: number, length: number) => Promise<Buffer>;

/** Why a file's location cannot be removed: it is not a well-formed MP4/MOV, or its `moov` is too large. */
export class Mp4LocationRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Mp4LocationRefusal';
  }
}

const FREE = Buffer.from('free', 'latin1');
/** XMP's uuid box (Adobe, ISO 16684): its packet may repeat the location. */
const XMP_UUID = Buffer.from('be7acfcb97a942e89c71999491e3afac', 'hex');

interface BoxHeader {
  type: string;
  /** Absolute offset of the box, of its 4-byte type, and of its payload. */
  start: number;
  typeAt: number;
  payloadAt: number;
  /** Absolute offset just past the box. */
  end: number;
}

/**
 * The header of the box at `at` within a parent ending at `limit`, from `head` (its first 16 bytes or
 * fewer), or a refusal for a box that does not fit in its parent.
 */
function headerOf(head: Buffer, at: number, limit: number): BoxHeader {
  if (head.length < 8) throw new Mp4LocationRefusal(`a box header at ${at} is cut short`);
  const size32 = head.readUInt32BE(0);
  const type = head.toString('latin1', 4, 8);
  // Types are four printable characters (© in QuickTime's): anything else is not a box at all.
  if (!/^[\x20-\x7e\xa9]{4}$/.test(type)) throw new Mp4LocationRefusal(`no box type at ${at}`);
  let size: number;
  let payloadAt = at + 8;
  if (size32 === 1) {
    if (head.length < 16) throw new Mp4LocationRefusal(`a 64-bit box header at ${at} is cut short`);
    const large = head.readBigUInt64BE(8);
    if (large > BigInt(Number.MAX_SAFE_INTEGER)) throw new Mp4LocationRefusal(`the box at ${at} is impossibly large`);
    size = Number(large);
    payloadAt = at + 16;
  } else if (size32 === 0) {
    size = limit - at;
  } else {
    size = size32;
  }
  if (size < payloadAt - at) throw new Mp4LocationRefusal(`the box at ${at} is smaller than its header`);
  if (at + size > limit) throw new Mp4LocationRefusal(`the box at ${at} runs past the end of its parent`);
  return { type, start: at, typeAt: at + 4, payloadAt, end: at + size };
}

/** Whether a box of this type, directly under the top level, moov or a trak, may hold the location. */
function isLocationBox(box: BoxHeader, bytes: Buffer | undefined, base: number): boolean {
  if (box.type === 'udta' || box.type === 'meta') return true;
  if (box.type !== 'uuid' || !bytes) return false;
  const from = box.payloadAt - base;
  return from + 16 <= bytes.length && bytes.subarray(from, from + 16).equals(XMP_UUID);
}

/**
 * The type offsets to rename among the children [from, to) of `moov` (or of one of its traks, when
 * `inTrack`), held in `bytes`, which starts at the file's offset `base`.
 */
function walkChildren(bytes: Buffer, base: number, from: number, to: number, inTrack: boolean, out: number[]): void {
  let at = from;
  while (at < to) {
    // Trailing padding shorter than a header (some writers leave 4 zero bytes) ends the list.
    if (to - at < 8) {
      if (bytes.subarray(at - base, to - base).every((byte) => byte === 0)) return;
      throw new Mp4LocationRefusal(`stray bytes at ${at}`);
    }
    const box = headerOf(bytes.subarray(at - base, Math.min(at - base + 16, to - base)), at, to);
    if (isLocationBox(box, bytes, base)) out.push(box.typeAt);
    else if (box.type === 'trak' && !inTrack) walkChildren(bytes, base, box.payloadAt, box.end, true, out);
    at = box.end;
  }
}

/**
 * The absolute offsets of the 4-byte types to overwrite with `free`, sorted. Walks the top-level boxes
 * by their headers and reads `moov` whole (at most MAX_MOOV_BYTES). Throws Mp4LocationRefusal for
 * anything that is not a well-formed file (no `moov`, two of them, a box past the end of the file).
 */
export async function findLocationBoxes(read: ReadBytes, size: number): Promise<number[]> {
  const out: number[] = [];
  let moovSeen = false;
  let at = 0;
  for (let count = 0; at < size; count++) {
    if (count >= MAX_TOP_LEVEL_BOXES) throw new Mp4LocationRefusal('too many top-level boxes');
    if (size - at < 8) {
      const tail = await read(at, size - at);
      if (tail.every((byte) => byte === 0)) break;
      throw new Mp4LocationRefusal(`stray bytes at ${at}`);
    }
    const head = await read(at, Math.min(16, size - at));
    const box = headerOf(head, at, size);
    if (box.type === 'moov') {
      if (moovSeen) throw new Mp4LocationRefusal('two moov boxes');
      moovSeen = true;
      const length = box.end - box.start;
      if (length > MAX_MOOV_BYTES) throw new Mp4LocationRefusal(`the moov box is larger than ${MAX_MOOV_BYTES} bytes`);
      const moov = await read(box.start, length);
      if (moov.length !== length) throw new Mp4LocationRefusal('the moov box could not be read whole');
      walkChildren(moov, box.start, box.payloadAt, box.end, false, out);
    } else if (box.type === 'udta' || box.type === 'meta') {
      out.push(box.typeAt);
    } else if (box.type === 'uuid' && box.end - box.payloadAt >= 16) {
      const id = await read(box.payloadAt, 16);
      if (id.equals(XMP_UUID)) out.push(box.typeAt);
    }
    at = box.end;
  }
  if (!moovSeen) throw new Mp4LocationRefusal('no moov box');
  return out.sort((a, b) => a - b);
}

/**
 * A stream over the bytes [start, end] of the file (inclusive, as in a Range) that writes `free` over
 * the type fields at `offsets` (from findLocationBoxes), including the parts of a field that straddle
 * the range's ends or a chunk boundary. Everything else passes through as it is.
 */
export function mp4LocationStripper(offsets: readonly number[], start: number): Transform {
  let position = start;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      callback(null, overwrite(chunk, position, offsets));
      position += chunk.length;
    },
  });
}

/** `chunk` (which starts at absolute offset `at`) with the type fields it overlaps overwritten; a copy if any. */
export function overwrite(chunk: Buffer, at: number, offsets: readonly number[]): Buffer {
  const chunkEnd = at + chunk.length;
  let copy: Buffer | undefined;
  for (const offset of offsets) {
    if (offset + FREE.length <= at) continue;
    if (offset >= chunkEnd) break;
    copy ??= Buffer.from(chunk);
    for (let i = 0; i < FREE.length; i++) {
      const inChunk = offset + i - at;
      if (inChunk >= 0 && inChunk < copy.length) copy[inChunk] = FREE[i]!;
    }
  }
  return copy ?? chunk;
}
