/**
 * A reader of the HEIF `meta` box (ISO/IEC 23008-12 over ISO BMFF): the items, where their bytes
 * are, their properties and references. Enough to learn a HEIC's displayed size, coding and Exif
 * without decoding it; the pixels are libheif's (heic.ts).
 */

export interface HeifBox {
  type: string;
  /** Offset of the box's first byte in the buffer it was read from. */
  start: number;
  /** Offset of its payload (after the header, before a full box's version and flags). */
  body: number;
  end: number;
}

export interface HeifExtent {
  offset: number;
  length: number;
}

export interface HeifLocation {
  /** 0: in the file (mdat), 1: in the meta box's `idat`. */
  method: number;
  baseOffset: number;
  extents: HeifExtent[];
}

export interface HeifProperty {
  type: string;
  /** The property box's payload, a view of the buffer it was read from. */
  data: Buffer;
}

export interface HeifMeta {
  primaryId: number;
  /** Item type by item id: `hvc1`, `grid`, `av01`, `Exif`, ... */
  items: Map<number, string>;
  locations: Map<number, HeifLocation>;
  /** Properties of each item, in association order (the order transforms apply in). */
  properties: Map<number, HeifProperty[]>;
  /** References from an item, by reference type: `dimg` (grid tiles), `cdsc` (Exif describes). */
  references: { type: string; from: number; to: number[] }[];
  /** Where the `idat` payload is in the buffer, for items stored in it. */
  idat: HeifExtent | undefined;
}

export class HeifFormatError extends Error {
  /** `stillImageMissing`: a sequence (a `moov` track) with no still image items to show. */
  constructor(
    message: string,
    readonly stillImageMissing = false,
  ) {
    super(message);
    this.name = 'HeifFormatError';
  }
}

const fail = (message: string): never => {
  throw new HeifFormatError(message);
};

/** The boxes between `start` and `end`. */
export function readBoxes(buffer: Buffer, start = 0, end = buffer.length): HeifBox[] {
  const boxes: HeifBox[] = [];
  let at = start;
  while (at + 8 <= end) {
    let size = buffer.readUInt32BE(at);
    const type = buffer.toString('latin1', at + 4, at + 8);
    let body = at + 8;
    if (size === 1) {
      if (at + 16 > end) fail(`the ${type} box is cut short`);
      size = Number(buffer.readBigUInt64BE(at + 8));
      body = at + 16;
    } else if (size === 0) {
      size = end - at;
    }
    if (size < body - at || at + size > end) fail(`the ${type} box runs past its container`);
    boxes.push({ type, start: at, body, end: at + size });
    at += size;
  }
  return boxes;
}

/** Reads big-endian unsigned integers of 0, 1, 2, 4 or 8 bytes from a cursor within [at, end). */
class Cursor {
  constructor(
    private readonly buffer: Buffer,
    public at: number,
    private readonly end: number,
  ) {}

  uint(bytes: number): number {
    if (this.at + bytes > this.end) fail('a box is shorter than its fields');
    let value: number;
    switch (bytes) {
      case 0:
        value = 0;
        break;
      case 1:
        value = this.buffer.readUInt8(this.at);
        break;
      case 2:
        value = this.buffer.readUInt16BE(this.at);
        break;
      case 4:
        value = this.buffer.readUInt32BE(this.at);
        break;
      case 8:
        value = Number(this.buffer.readBigUInt64BE(this.at));
        break;
      default:
        return fail(`a field of ${bytes} bytes is not allowed`);
    }
    this.at += bytes;
    return value;
  }

  fourcc(): string {
    if (this.at + 4 > this.end) fail('a box is shorter than its fields');
    const value = this.buffer.toString('latin1', this.at, this.at + 4);
    this.at += 4;
    return value;
  }
}

/**
 * The `meta` box of a HEIF file whose first bytes are `head` (the file's start, at least up to the
 * end of `meta`). Throws HeifFormatError when the box is missing, cut short or malformed.
 */
export function readHeifMeta(head: Buffer): HeifMeta {
  const top = readBoxesUntil(head, 'meta');
  const meta = top.find((box) => box.type === 'meta') ?? fail('it has no meta box');
  const children = readBoxes(head, meta.body + 4, meta.end);
  const child = (type: string) => children.find((box) => box.type === type);

  const pitm = child('pitm') ?? fail('it names no primary image');
  const pitmCursor = new Cursor(head, pitm.body, pitm.end);
  const pitmVersion = pitmCursor.uint(4) >>> 24;
  const primaryId = pitmCursor.uint(pitmVersion === 0 ? 2 : 4);

  const idatBox = child('idat');
  return {
    primaryId,
    items: readItemInfo(head, child('iinf') ?? fail('it has no item list')),
    locations: readLocations(head, child('iloc') ?? fail('it has no item locations')),
    properties: readProperties(head, child('iprp')),
    references: readReferences(head, child('iref')),
    idat: idatBox ? { offset: idatBox.body, length: idatBox.end - idatBox.body } : undefined,
  };
}

/** Top-level boxes up to and including `type`, tolerating a cut-off box after it. */
function readBoxesUntil(buffer: Buffer, type: string): HeifBox[] {
  const boxes: HeifBox[] = [];
  let at = 0;
  while (at + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(at);
    const boxType = buffer.toString('latin1', at + 4, at + 8);
    if (size < 8 && size !== 0) fail(`the ${boxType} box has a size of ${size}`);
    const end = size === 0 ? buffer.length : at + size;
    if (boxType === type) {
      if (end > buffer.length) fail(`the ${type} box is cut short`);
      boxes.push({ type, start: at, body: at + 8, end });
      return boxes;
    }
    boxes.push({ type: boxType, start: at, body: at + 8, end });
    at = end;
  }
  return boxes;
}

function readItemInfo(buffer: Buffer, iinf: HeifBox): Map<number, string> {
  const cursor = new Cursor(buffer, iinf.body, iinf.end);
  const version = cursor.uint(4) >>> 24;
  cursor.uint(version === 0 ? 2 : 4);
  const items = new Map<number, string>();
  for (const infe of readBoxes(buffer, cursor.at, iinf.end)) {
    if (infe.type !== 'infe') continue;
    const entry = new Cursor(buffer, infe.body, infe.end);
    const infeVersion = entry.uint(4) >>> 24;
    // Versions 0 and 1 predate item types: they describe no image.
    if (infeVersion < 2) continue;
    const id = entry.uint(infeVersion === 2 ? 2 : 4);
    entry.uint(2);
    items.set(id, entry.fourcc());
  }
  return items;
}

function readLocations(buffer: Buffer, iloc: HeifBox): Map<number, HeifLocation> {
  const cursor = new Cursor(buffer, iloc.body, iloc.end);
  const version = cursor.uint(4) >>> 24;
  if (version > 2) fail(`its item locations are of unknown version ${version}`);
  const sizes = cursor.uint(1);
  const offsetSize = sizes >> 4;
  const lengthSize = sizes & 0xf;
  const more = cursor.uint(1);
  const baseOffsetSize = more >> 4;
  const indexSize = version > 0 ? more & 0xf : 0;
  const count = cursor.uint(version < 2 ? 2 : 4);
  const locations = new Map<number, HeifLocation>();
  for (let i = 0; i < count; i++) {
    const id = cursor.uint(version < 2 ? 2 : 4);
    const method = version > 0 ? cursor.uint(2) & 0xf : 0;
    cursor.uint(2);
    const baseOffset = cursor.uint(baseOffsetSize);
    const extentCount = cursor.uint(2);
    const extents: HeifExtent[] = [];
    for (let e = 0; e < extentCount; e++) {
      cursor.uint(indexSize);
      extents.push({ offset: cursor.uint(offsetSize), length: cursor.uint(lengthSize) });
    }
    locations.set(id, { method, baseOffset, extents });
  }
  return locations;
}

function readProperties(buffer: Buffer, iprp: HeifBox | undefined): Map<number, HeifProperty[]> {
  const byItem = new Map<number, HeifProperty[]>();
  if (!iprp) return byItem;
  const children = readBoxes(buffer, iprp.body, iprp.end);
  const ipco = children.find((box) => box.type === 'ipco');
  if (!ipco) return byItem;
  const pool = readBoxes(buffer, ipco.body, ipco.end).map((box) => ({
    type: box.type,
    data: buffer.subarray(box.body, box.end),
  }));
  for (const ipma of children.filter((box) => box.type === 'ipma')) {
    const cursor = new Cursor(buffer, ipma.body, ipma.end);
    const versionAndFlags = cursor.uint(4);
    const version = versionAndFlags >>> 24;
    const wideIndex = (versionAndFlags & 1) === 1;
    const entries = cursor.uint(4);
    for (let i = 0; i < entries; i++) {
      const id = cursor.uint(version < 1 ? 2 : 4);
      const associations = cursor.uint(1);
      const list = byItem.get(id) ?? [];
      for (let a = 0; a < associations; a++) {
        const index = wideIndex ? cursor.uint(2) & 0x7fff : cursor.uint(1) & 0x7f;
        const property = index > 0 ? pool[index - 1] : undefined;
        if (property) list.push(property);
      }
      byItem.set(id, list);
    }
  }
  return byItem;
}

function readReferences(buffer: Buffer, iref: HeifBox | undefined): HeifMeta['references'] {
  if (!iref) return [];
  const version = buffer.readUInt8(iref.body);
  const idSize = version === 0 ? 2 : 4;
  return readBoxes(buffer, iref.body + 4, iref.end).map((box) => {
    const cursor = new Cursor(buffer, box.body, box.end);
    const from = cursor.uint(idSize);
    const count = cursor.uint(2);
    const to: number[] = [];
    for (let i = 0; i < count; i++) to.push(cursor.uint(idSize));
    return { type: box.type, from, to };
  });
}

/** The first property of a type an item has. */
export const propertyOf = (meta: HeifMeta, id: number, type: string): HeifProperty | undefined =>
  meta.properties.get(id)?.find((property) => property.type === type);

/** The items an item is derived from (a grid's tiles), in order. */
export const derivedFrom = (meta: HeifMeta, id: number): number[] =>
  meta.references.find((reference) => reference.type === 'dimg' && reference.from === id)?.to ?? [];
