import { open, type FileHandle } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

import { derivedFrom, HeifFormatError, propertyOf, readHeifMeta, type HeifMeta } from './heif-boxes.js';

/**
 * HEIC photos (HEVC-coded HEIF, what iPhones write). sharp's prebuilt libvips cannot decode HEVC,
 * so the pixels come from libheif compiled to WebAssembly (`libheif-js`), in worker threads: a
 * 12 MP decode takes seconds and would stall every request on the main thread. The header (size,
 * rotation, Exif) is read here in JavaScript, without decoding.
 */

/** The media types file-type sniffs for HEIF files, still images and sequences. */
export const HEIF_TYPES: ReadonlySet<string> = new Set([
  'image/heic',
  'image/heif',
  'image/heic-sequence',
  'image/heif-sequence',
]);

export interface HeifHeader {
  /** How the primary image's pixels are coded: HEVC decodes here, AV1 is sharp's (AVIF). */
  codec: 'hevc' | 'av1' | 'other';
  /** Displayed size: after the crop (`clap`) and rotation (`irot`) the decoder applies. */
  width: number;
  height: number;
  /** Bits per sample of the primary image (8 unless `pixi` says more). */
  bitDepth: number;
  /** The Exif block as a TIFF file (header onwards), when the file has one. */
  exif: Buffer | undefined;
  fileBytes: number;
}

export interface DecodedPixels {
  /** width × height × 4 bytes of RGBA, 8 bits a sample, already rotated and mirrored for display. */
  pixels: Buffer;
  width: number;
  height: number;
  /** False when the alpha samples are all opaque filler. */
  alpha: boolean;
}

const KB = 1024;
const MB = 1024 * KB;
/** Where the meta box must end: iPhones' is a few KB; a file whose meta goes past this is refused. */
const MAX_META_BYTES = 4 * MB;
const MAX_EXIF_BYTES = 1 * MB;

/**
 * Reads the header of a HEIF file. Throws HeifFormatError when it is not one this code can read.
 */
export async function readHeifHeader(file: string): Promise<HeifHeader> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    let head = await readAt(handle, 0, Math.min(size, 64 * KB));
    const metaEnd = endOfMeta(head);
    if (metaEnd > MAX_META_BYTES) throw new HeifFormatError(`its meta box is larger than ${MAX_META_BYTES} bytes`);
    if (metaEnd > head.length) {
      if (metaEnd > size) throw new HeifFormatError('the meta box is cut short');
      head = await readAt(handle, 0, metaEnd);
    }
    const meta = readHeifMeta(head);
    const { width, height } = displayedSize(meta);
    const pixi = propertyOf(meta, meta.primaryId, 'pixi') ?? propertyOf(meta, codedItem(meta), 'pixi');
    return {
      codec: codecOf(meta.items.get(codedItem(meta))),
      width,
      height,
      bitDepth: pixi && pixi.data.length >= 6 ? Math.max(8, pixi.data.readUInt8(5)) : 8,
      exif: await readExif(handle, meta, head),
      fileBytes: size,
    };
  } finally {
    await handle.close();
  }
}

async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buffer, 0, length, position);
  return buffer.subarray(0, bytesRead);
}

/** Where the top-level meta box ends, from the box headers in `head`. */
function endOfMeta(head: Buffer): number {
  let at = 0;
  let track = false;
  while (at + 8 <= head.length) {
    const size = head.readUInt32BE(at);
    const type = head.toString('latin1', at + 4, at + 8);
    const length = size === 1 && at + 16 <= head.length ? Number(head.readBigUInt64BE(at + 8)) : size;
    if (type === 'meta') return at + length;
    track ||= type === 'moov';
    if (length < 8) break;
    at += length;
  }
  throw new HeifFormatError('it has no meta box near its start', track);
}

/** The item whose coding decides the decoder: the primary image, or the first tile of a grid. */
function codedItem(meta: HeifMeta): number {
  let id = meta.primaryId;
  // Derived images (grid, identity) name their sources; a few levels at most in real files.
  for (let depth = 0; depth < 4; depth++) {
    const type = meta.items.get(id);
    if (type !== 'grid' && type !== 'iden' && type !== 'iovl') return id;
    const source = derivedFrom(meta, id)[0];
    if (source === undefined) return id;
    id = source;
  }
  return id;
}

function codecOf(itemType: string | undefined): HeifHeader['codec'] {
  if (itemType === 'hvc1') return 'hevc';
  if (itemType === 'av01') return 'av1';
  return 'other';
}

/** The primary image's size as displayed: its `ispe`, then each crop and rotation in turn. */
function displayedSize(meta: HeifMeta): { width: number; height: number } {
  if (!meta.items.has(meta.primaryId)) throw new HeifFormatError('its primary image is not among its items');
  const properties = meta.properties.get(meta.primaryId) ?? [];
  const ispe = properties.find((property) => property.type === 'ispe');
  if (!ispe || ispe.data.length < 12) throw new HeifFormatError('its primary image has no size');
  let width = ispe.data.readUInt32BE(4);
  let height = ispe.data.readUInt32BE(8);
  for (const property of properties) {
    if (property.type === 'clap' && property.data.length >= 16) {
      const ratio = (offset: number) =>
        property.data.readUInt32BE(offset) / (property.data.readUInt32BE(offset + 4) || 1);
      width = Math.round(ratio(0));
      height = Math.round(ratio(8));
    } else if (property.type === 'irot' && property.data.length >= 1 && (property.data.readUInt8(0) & 1) === 1) {
      [width, height] = [height, width];
    }
  }
  return { width, height };
}

/** The Exif block describing the primary image (or the file's only one), as a TIFF file. */
async function readExif(handle: FileHandle, meta: HeifMeta, head: Buffer): Promise<Buffer | undefined> {
  const exifIds = [...meta.items].filter(([, type]) => type === 'Exif').map(([id]) => id);
  const describing = exifIds.find((id) =>
    meta.references.some((ref) => ref.type === 'cdsc' && ref.from === id && ref.to.includes(meta.primaryId)),
  );
  const location = meta.locations.get(describing ?? exifIds[0] ?? -1);
  if (!location) return undefined;
  const total = location.extents.reduce((sum, extent) => sum + extent.length, 0);
  if (total < 8 || total > MAX_EXIF_BYTES) return undefined;
  const parts: Buffer[] = [];
  for (const extent of location.extents) {
    const at = location.baseOffset + extent.offset;
    if (location.method === 1 && meta.idat) {
      parts.push(head.subarray(meta.idat.offset + at, meta.idat.offset + at + extent.length));
    } else if (location.method === 0) {
      parts.push(await readAt(handle, at, extent.length));
    }
  }
  const block = Buffer.concat(parts);
  if (block.length < 8) return undefined;
  // The block starts with the offset of the TIFF header after these 4 bytes ("Exif\0\0" may come between).
  const tiff = block.subarray(4 + block.readUInt32BE(0));
  const mark = tiff.toString('latin1', 0, 4);
  return mark === 'II*\0' || mark === 'MM\0*' ? tiff : undefined;
}

// ---- Decoding in worker threads ------------------------------------------------------------

/**
 * The worker: decodes the primary image of the file it is sent to 8-bit RGBA with libheif, which
 * applies the file's crop, rotation and mirroring (HEIF says Exif's orientation is informative
 * only), and sends the pixels back without copying them again. Plain JavaScript, so the same
 * worker runs from the TypeScript sources under test and from the build.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
// libheif-js reports failures on the console (and Emscripten its aborts): here they come back as
// answers or as the worker's error instead, not as stray lines among the server's JSON logs.
console.log = console.warn = console.error = () => {};
const libheif = require(workerData.libheif);
parentPort.on('message', ({ file }) => {
  let decoder;
  let images = [];
  const finish = (answer, transfer) => {
    for (const image of images) image.free();
    if (decoder && decoder.decoder) libheif.heif_context_free(decoder.decoder);
    answer.heapBytes = libheif.HEAPU8.length;
    parentPort.postMessage(answer, transfer);
  };
  try {
    decoder = new libheif.HeifDecoder();
    images = decoder.decode(readFileSync(file));
    const image = images.find((candidate) => candidate.is_primary()) || images[0];
    if (!image) return finish({ error: 'it holds no image libheif can read' });
    const width = image.get_width();
    const height = image.get_height();
    const alpha = image.has_alpha_channel();
    const pixels = new Uint8ClampedArray(width * height * 4);
    image.display({ data: pixels, width, height }, (done) => {
      if (!done) finish({ error: 'its image data cannot be decoded' });
      else finish({ width, height, alpha, pixels: pixels.buffer }, [pixels.buffer]);
    });
  } catch (error) {
    finish({ error: String(error && error.message || error) });
  }
});
`;

interface WorkerAnswer {
  error?: string;
  width?: number;
  height?: number;
  alpha?: boolean;
  pixels?: ArrayBuffer;
  heapBytes: number;
}

/**
 * A worker whose WebAssembly heap grew past this is ended after its decode rather than kept: wasm
 * memory never shrinks, and an idle worker's heap is outside the decode budget. A 3 MP decode fits
 * (the heap starts at 16 MB); a 12 MP one (about 100 MB) ends its worker, for ~150 ms of start-up.
 */
const KEEP_HEAP_BYTES = 64 * MB;
/** Idle workers end after this long without work. */
const IDLE_MS = 30_000;
/**
 * A decode that takes longer is ended and refused: 48 MP takes ~5 s here; a stream that makes
 * the decoder spin should not hold a decode slot for ever.
 */
const DECODE_TIMEOUT_MS = 120_000;

const libheifPath = createRequire(import.meta.url).resolve('libheif-js/wasm-bundle.js');
const idle: { worker: Worker; timer: NodeJS.Timeout }[] = [];
let maxIdle = 1;

/** How many idle workers to keep for the next decodes: the decode concurrency. */
export function keepHeifWorkers(count: number): void {
  maxIdle = Math.max(0, count);
  while (idle.length > maxIdle) endIdle(idle[0]!.worker);
}

/** Ends the idle workers now (at shutdown, or in tests). */
export function stopHeifWorkers(): void {
  while (idle.length > 0) endIdle(idle[0]!.worker);
}

function endIdle(worker: Worker): void {
  const at = idle.findIndex((entry) => entry.worker === worker);
  if (at >= 0) clearTimeout(idle.splice(at, 1)[0]!.timer);
  void worker.terminate();
}

function takeWorker(): Worker {
  const entry = idle.pop();
  if (entry) {
    clearTimeout(entry.timer);
    return entry.worker;
  }
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { libheif: libheifPath } });
  // A worker waiting for work must not keep the process alive.
  worker.unref();
  return worker;
}

function parkWorker(worker: Worker): void {
  if (idle.length >= maxIdle) {
    void worker.terminate();
    return;
  }
  const timer = setTimeout(() => endIdle(worker), IDLE_MS);
  timer.unref();
  idle.push({ worker, timer });
}

/**
 * Decodes the primary image of a HEIF file in a worker thread. The caller holds a decode slot and
 * the memory its estimate names. Throws HeifFormatError when libheif cannot decode it.
 */
export async function decodeHeif(file: string): Promise<DecodedPixels> {
  const worker = takeWorker();
  let answer: WorkerAnswer;
  try {
    answer = await new Promise<WorkerAnswer>((resolve, reject) => {
      const timer = setTimeout(() => {
        settle();
        reject(new HeifFormatError('its decode took too long'));
      }, DECODE_TIMEOUT_MS);
      const settle = () => {
        clearTimeout(timer);
        worker.off('message', onMessage).off('error', onError).off('exit', onExit);
      };
      const onMessage = (message: WorkerAnswer) => {
        settle();
        resolve(message);
      };
      // libheif aborts (out of WebAssembly memory, a corrupt stream) end up here.
      const onError = (error: Error) => {
        settle();
        reject(new HeifFormatError(`its decode failed: ${error.message}`));
      };
      const onExit = () => {
        settle();
        reject(new HeifFormatError('its decode ended without an answer'));
      };
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
      worker.postMessage({ file });
    });
  } catch (error) {
    void worker.terminate();
    throw error;
  }
  if (answer.heapBytes > KEEP_HEAP_BYTES) void worker.terminate();
  else parkWorker(worker);
  if (answer.error !== undefined || !answer.pixels || !answer.width || !answer.height) {
    throw new HeifFormatError(answer.error ?? 'its decode gave no pixels');
  }
  return {
    pixels: Buffer.from(answer.pixels),
    width: answer.width,
    height: answer.height,
    alpha: answer.alpha === true,
  };
}
