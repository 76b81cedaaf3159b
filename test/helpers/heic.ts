import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import sharp from 'sharp';

import { derivedFrom, propertyOf, readHeifMeta } from '../../src/image/heif-boxes.js';

const run = promisify(execFile);

/** Debian's libheif-examples; `.ci/run` installs it. */
export const HEIF_ENC = '/usr/bin/heif-enc';
export const heifEncMissing = existsSync(HEIF_ENC)
  ? undefined
  : `${HEIF_ENC} is missing: apt-get install libheif-examples to make the HEIC fixtures`;

/**
 * Encodes a JPEG or PNG as HEIC with heif-enc (HEVC by x265), as a phone would write it. Sizes that
 * are not multiples of 64 come out as a one-tile grid, as libheif writes them.
 */
export async function heifEnc(image: Buffer, quality = 60): Promise<Buffer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pixa-heic-'));
  try {
    const input = path.join(dir, image[0] === 0x89 ? 'in.png' : 'in.jpg');
    const output = path.join(dir, 'out.heic');
    await writeFile(input, image);
    // ultrafast: a fixture in a fraction of the default's time; the file is no less a HEIC for it.
    await run(HEIF_ENC, ['-q', String(quality), '-p', 'preset=ultrafast', '-o', output, input]);
    return await readFile(output);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** One HEVC-coded image taken out of a heif-enc file: its decoder configuration, size and stream. */
export interface CodedImage {
  hvcC: Buffer;
  width: number;
  height: number;
  data: Buffer;
}

/** The coded image behind a heif-enc file's primary item (the tile, when heif-enc wrote a grid). */
export function codedImageOf(file: Buffer): CodedImage {
  const meta = readHeifMeta(file);
  let id = meta.primaryId;
  if (meta.items.get(id) === 'grid') id = derivedFrom(meta, id)[0]!;
  const hvcC = propertyOf(meta, id, 'hvcC');
  const ispe = propertyOf(meta, id, 'ispe');
  const location = meta.locations.get(id);
  if (!hvcC || !ispe || !location) throw new Error('heif-enc wrote an image without hvcC, ispe or location');
  const data = Buffer.concat(
    location.extents.map((extent) => {
      const at = location.baseOffset + extent.offset;
      return file.subarray(at, at + extent.length);
    }),
  );
  return { hvcC: Buffer.from(hvcC.data), width: ispe.data.readUInt32BE(4), height: ispe.data.readUInt32BE(8), data };
}

export interface HeicLayout {
  /** Coded images, row by row: one for a plain image, columns × rows for a grid. */
  tiles: CodedImage[];
  columns: number;
  rows: number;
  /** The grid's output size (tiles past it are cropped); for one tile, its own size. */
  width: number;
  height: number;
  /** HEIF `irot`: anticlockwise quarter turns the viewer applies (1 = 90°, 3 = 270°, i.e. 90° clockwise). */
  rotation?: 0 | 1 | 2 | 3;
  /** HEIF `imir`, applied after irot; as libheif (1.15 and 1.23 alike) reads it, 0 flips top ↔ bottom, 1 left ↔ right. */
  mirror?: 0 | 1 | undefined;
  /** An EXIF block ("Exif\0\0" then TIFF, as sharp's metadata gives it) stored as the image's Exif item. */
  exif?: Buffer | undefined;
  /** The ftyp's major brand: `heic` for a still image, `msf1` for an image sequence. */
  brand?: 'heic' | 'msf1';
}

const u8 = (value: number) => Buffer.from([value]);
const u16 = (value: number) => {
  const buffer = Buffer.alloc(2);
  buffer.writeUInt16BE(value);
  return buffer;
};
const u32 = (value: number) => {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value);
  return buffer;
};
const box = (type: string, ...payload: Buffer[]) => {
  const body = Buffer.concat(payload);
  return Buffer.concat([u32(8 + body.length), Buffer.from(type, 'latin1'), body]);
};
const fullBox = (type: string, version: number, flags: number, ...payload: Buffer[]) =>
  box(type, u32((version << 24) | flags), ...payload);

/**
 * Writes a HEIC file: the tiles as hidden `hvc1` items under a `grid` primary item, the way iPhones
 * store photos (heif-enc 1.15 cannot write a grid), or one `hvc1` primary item; with an optional
 * `irot` and Exif item. Identical decoder configurations are stored once.
 */
export function assembleHeic(layout: HeicLayout): Buffer {
  const grid = layout.tiles.length > 1 || layout.columns * layout.rows > 1;
  if (layout.tiles.length !== layout.columns * layout.rows) throw new Error('tiles must fill the grid');
  const tileIds = layout.tiles.map((_, i) => i + 1);
  const primaryId = grid ? tileIds.length + 1 : 1;
  const exifId = layout.exif ? primaryId + 1 : undefined;

  // Property pool (1-based indices): distinct hvcC, then the tile size, the output size and irot.
  const hvcCs: Buffer[] = [];
  const hvcCIndex = layout.tiles.map((tile) => {
    const at = hvcCs.findIndex((known) => known.equals(tile.hvcC));
    if (at >= 0) return at + 1;
    hvcCs.push(tile.hvcC);
    return hvcCs.length;
  });
  const first = layout.tiles[0]!;
  const pool = [
    ...hvcCs.map((hvcC) => box('hvcC', hvcC)),
    fullBox('ispe', 0, 0, u32(first.width), u32(first.height)),
    fullBox('ispe', 0, 0, u32(layout.width), u32(layout.height)),
    ...(layout.rotation ? [box('irot', u8(layout.rotation))] : []),
    ...(layout.mirror !== undefined ? [box('imir', u8(layout.mirror))] : []),
  ];
  const tileIspe = hvcCs.length + 1;
  const outputIspe = hvcCs.length + 2;
  const irot = layout.rotation ? hvcCs.length + 3 : undefined;
  const imir = layout.mirror !== undefined ? hvcCs.length + 3 + (irot ? 1 : 0) : undefined;
  // Transforms in the order they apply: rotation, then mirroring.
  const transforms = [irot, imir].filter((index) => index !== undefined);
  const essential = (index: number) => u16(0x8000 | index);
  const plain = (index: number) => u16(index);
  const associations: [number, Buffer[]][] = grid
    ? [
        ...tileIds.map((id, i): [number, Buffer[]] => [id, [essential(hvcCIndex[i]!), plain(tileIspe)]]),
        [primaryId, [plain(outputIspe), ...transforms.map(essential)]],
      ]
    : [[primaryId, [essential(1), plain(outputIspe), ...transforms.map(essential)]]];
  const ipma = fullBox(
    'ipma',
    0,
    1,
    u32(associations.length),
    ...associations.flatMap(([id, list]) => [u16(id), u8(list.length), ...list]),
  );

  const infe = (id: number, type: string, hidden: boolean) =>
    fullBox('infe', 2, hidden ? 1 : 0, u16(id), u16(0), Buffer.from(type, 'latin1'), u8(0));
  const items: [number, string, boolean][] = [
    ...(grid ? tileIds.map((id): [number, string, boolean] => [id, 'hvc1', true]) : []),
    [primaryId, grid ? 'grid' : 'hvc1', false],
    ...(exifId ? [[exifId, 'Exif', false] as [number, string, boolean]] : []),
  ];
  const references = [
    ...(grid ? [box('dimg', u16(primaryId), u16(tileIds.length), ...tileIds.map(u16))] : []),
    ...(exifId ? [box('cdsc', u16(exifId), u16(1), u16(primaryId))] : []),
  ];

  // Item payloads in mdat order; the grid descriptor: version, flags, rows-1, columns-1, output size.
  const payloads: [number, Buffer][] = [
    ...(grid
      ? [
          ...layout.tiles.map((tile, i): [number, Buffer] => [tileIds[i]!, tile.data]),
          [
            primaryId,
            Buffer.concat([
              u8(0),
              u8(0),
              u8(layout.rows - 1),
              u8(layout.columns - 1),
              u16(layout.width),
              u16(layout.height),
            ]),
          ] as [number, Buffer],
        ]
      : [[primaryId, first.data] as [number, Buffer]]),
    // The Exif item: the offset of the TIFF header after these 4 bytes, then "Exif\0\0" and TIFF.
    ...(exifId && layout.exif ? [[exifId, Buffer.concat([u32(6), layout.exif])] as [number, Buffer]] : []),
  ];

  const ftyp = box(
    'ftyp',
    Buffer.from(layout.brand ?? 'heic', 'latin1'),
    u32(0),
    Buffer.from('mif1heicmiaf', 'latin1'),
  );
  const metaWith = (mdatStart: number) => {
    let at = mdatStart + 8;
    const iloc = fullBox(
      'iloc',
      0,
      0,
      u8(0x44),
      u8(0x00),
      u16(payloads.length),
      ...payloads.flatMap(([id, data]) => {
        const entry = [u16(id), u16(0), u16(1), u32(at), u32(data.length)];
        at += data.length;
        return entry;
      }),
    );
    return fullBox(
      'meta',
      0,
      0,
      fullBox('hdlr', 0, 0, u32(0), Buffer.from('pict', 'latin1'), Buffer.alloc(12), u8(0)),
      fullBox('pitm', 0, 0, u16(primaryId)),
      fullBox('iinf', 0, 0, u16(items.length), ...items.map(([id, type, hidden]) => infe(id, type, hidden))),
      ...(references.length > 0 ? [fullBox('iref', 0, 0, ...references)] : []),
      box('iprp', box('ipco', ...pool), ipma),
      iloc,
    );
  };
  const metaLength = metaWith(0).length;
  const meta = metaWith(ftyp.length + metaLength);
  return Buffer.concat([ftyp, meta, box('mdat', ...payloads.map(([, data]) => data))]);
}

/** The "Exif\0\0" block of an image sharp wrote, to carry over into a HEIC. */
export async function exifOf(image: Buffer): Promise<Buffer | undefined> {
  return (await sharp(image).metadata()).exif;
}

/**
 * A grid-tiled HEIC of `image`, the way an iPhone stores a photo: `tile`×`tile` HEVC tiles (512 on
 * iPhones) under a grid item whose output size crops the padding of the last row and column.
 */
export async function gridHeic(
  image: Buffer,
  tile = 512,
  options: { exif?: Buffer | undefined } = {},
): Promise<Buffer> {
  const { width, height } = await sharp(image).metadata();
  if (!width || !height) throw new Error('no size');
  const columns = Math.ceil(width / tile);
  const rows = Math.ceil(height / tile);
  const padded = await sharp(image)
    .extend({ right: columns * tile - width, bottom: rows * tile - height, extendWith: 'copy' })
    .png()
    .toBuffer();
  const tiles: CodedImage[] = [];
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < columns; column++) {
      const part = await sharp(padded)
        .extract({ left: column * tile, top: row * tile, width: tile, height: tile })
        .png()
        .toBuffer();
      tiles.push(codedImageOf(await heifEnc(part)));
    }
  }
  return assembleHeic({ tiles, columns, rows, width, height, exif: options.exif });
}

/** A picture whose top-left quadrant is red and the rest green: its orientation shows in its pixels. */
export async function markedPhoto(width: number, height: number, exif?: Record<string, Record<string, string>>) {
  const red = await sharp({
    create: { width: Math.floor(width / 2), height: Math.floor(height / 2), channels: 3, background: '#e01010' },
  })
    .png()
    .toBuffer();
  let image = sharp({ create: { width, height, channels: 3, background: '#10c010' } }).composite([
    { input: red, left: 0, top: 0 },
  ]);
  if (exif) image = sharp(await image.png().toBuffer()).withExif(exif);
  return image.jpeg({ quality: 92 }).toBuffer();
}

/** Whether the pixel at (x, y) as fractions of the size is mostly red (else green). */
export async function isRedAt(image: Buffer, x: number, y: number): Promise<boolean> {
  const { data, info } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const at = (Math.floor(y * info.height) * info.width + Math.floor(x * info.width)) * info.channels;
  return data[at]! > 150 && data[at + 1]! < 100;
}
