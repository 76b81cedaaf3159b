import { monthKey, monthLabel } from './format.js';
import type { Image as Photo } from '../../../src/api/index.js';

/** A photo placed in the grid, in pixels relative to its row. */
export interface Tile {
  photo: Photo;
  /** Position in the full photo list, for the lightbox. */
  index: number;
  x: number;
  width: number;
}

export type Block =
  | {
      kind: 'heading';
      key: string;
      /** "2024-03". */
      month: string;
      y: number;
      height: number;
      label: string;
      count: number;
      /** "12 photos", "3 photos, 1 video", with a "+" when more may still arrive. */
      countLabel: string;
      more: boolean;
    }
  | { kind: 'row'; key: string; y: number; height: number; tiles: Tile[] };

export interface GalleryLayout {
  blocks: Block[];
  height: number;
}

export interface LayoutOptions {
  width: number;
  /** Rows are made about this tall; full rows stretch or shrink to fill the width exactly. */
  rowHeight: number;
  gap: number;
  headingHeight: number;
  /** Whether more photos may still arrive, so the last month's count is a lower bound. */
  more: boolean;
}

/** Very wide or tall pictures would make rows of one sliver; they are cropped to these ratios. */
const MIN_RATIO = 0.5;
const MAX_RATIO = 2.5;

function ratio(photo: Photo): number {
  if (!(photo.width > 0 && photo.height > 0)) return 1;
  return Math.min(MAX_RATIO, Math.max(MIN_RATIO, photo.width / photo.height));
}

/**
 * A justified layout (rows of equal height that fill the width, like a photo book), grouped by the month
 * each photo was taken. Plain arithmetic over width and height, so thousands of photos lay out in a few
 * milliseconds and placeholders have their final size before any picture loads.
 */
export function layoutGallery(photos: Photo[], options: LayoutOptions): GalleryLayout {
  const { width, rowHeight, gap, headingHeight } = options;
  const blocks: Block[] = [];
  let y = 0;
  let start = 0;
  while (start < photos.length && width > 0) {
    const first = photos[start] as Photo;
    const month = monthKey(first.takenAt);
    let end = start;
    let videos = 0;
    for (; end < photos.length && monthKey((photos[end] as Photo).takenAt) === month; end++) {
      if ((photos[end] as Photo).kind === 'video') videos++;
    }
    const more = options.more && end === photos.length;
    blocks.push({
      kind: 'heading',
      key: `m-${month}`,
      month,
      y,
      height: headingHeight,
      label: monthLabel(first.takenAt),
      count: end - start,
      countLabel: countLabel(end - start - videos, videos, more),
      more,
    });
    y += headingHeight;
    y = layoutRows(photos, start, end, { width, rowHeight, gap }, blocks, y);
    start = end;
  }
  return { blocks, height: Math.ceil(y) };
}

/** How many photos and videos a month holds: "1 photo", "3 photos, 2 videos", "60+ photos". */
function countLabel(photos: number, videos: number, more: boolean): string {
  const counts: [number, string][] = [];
  if (photos > 0 || videos === 0) counts.push([photos, 'photo']);
  if (videos > 0) counts.push([videos, 'video']);
  // The "+" goes on the last figure: a month is read left to right, and the next page may bring more.
  return counts
    .map(([n, noun], index) => {
      const open = more && index === counts.length - 1;
      return `${n}${open ? '+' : ''} ${noun}${n === 1 && !open ? '' : 's'}`;
    })
    .join(', ');
}

function layoutRows(
  photos: Photo[],
  start: number,
  end: number,
  { width, rowHeight, gap }: { width: number; rowHeight: number; gap: number },
  blocks: Block[],
  y: number,
): number {
  let rowStart = start;
  while (rowStart < end) {
    let sum = 0;
    let rowEnd = rowStart;
    let height = rowHeight;
    let full = false;
    while (rowEnd < end) {
      sum += ratio(photos[rowEnd] as Photo);
      rowEnd++;
      const fitted = (width - gap * (rowEnd - rowStart - 1)) / sum;
      if (fitted <= rowHeight) {
        height = fitted;
        full = true;
        break;
      }
    }
    // A last row that does not fill the width keeps the usual height instead of growing huge.
    if (!full) height = Math.min(rowHeight, (width - gap * (rowEnd - rowStart - 1)) / sum);
    const tiles: Tile[] = [];
    let x = 0;
    for (let index = rowStart; index < rowEnd; index++) {
      const photo = photos[index] as Photo;
      const isLast = index === rowEnd - 1;
      // Rounding each tile separately would leave a ragged right edge; the last tile of a full row takes the rest.
      const tileWidth = full && isLast ? width - x : Math.round(ratio(photo) * height);
      tiles.push({ photo, index, x, width: Math.max(1, tileWidth) });
      x += tileWidth + gap;
    }
    const rowHeightPx = Math.round(height);
    blocks.push({ kind: 'row', key: `r-${(photos[rowStart] as Photo).id}`, y, height: rowHeightPx, tiles });
    y += rowHeightPx + gap;
    rowStart = rowEnd;
  }
  return y;
}

/** Index of the first block whose bottom edge is below `y` (binary search: blocks are in y order). */
export function firstBlockBelow(blocks: Block[], y: number): number {
  let low = 0;
  let high = blocks.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    const block = blocks[mid] as Block;
    if (block.y + block.height < y) low = mid + 1;
    else high = mid;
  }
  return low;
}
