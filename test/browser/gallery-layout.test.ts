import { describe, expect, test } from 'vitest';

import { comparePhotos } from '../../web/src/lib/gallery-order.js';
import { firstBlockBelow, layoutGallery, type Block } from '../../web/src/lib/layout.js';
import type { Image as Photo } from '../../src/api/index.js';

function photo(id: number, takenAt: string, width = 1200, height = 800): Photo {
  const url = `/media/${id}`;
  return {
    id: `id-${String(id).padStart(6, '0')}`,
    filename: `photo-${id}.jpg`,
    mediaType: 'image/jpeg',
    size: 1000,
    width,
    height,
    takenAt,
    uploadedAt: takenAt,
    kind: 'photo',
    durationMs: null,
    videoType: null,
    playback: null,
    urls: { thumbnail: url, preview: url, original: url, download: url },
    favorite: false,
    albumIds: [],
  };
}

/** `count` photos, newest first, one every `hours` hours back from the end of 2024, in varied shapes. */
function manyPhotos(count: number, hours = 20): Photo[] {
  const shapes = [
    [1200, 800],
    [800, 1200],
    [1000, 1000],
    [4000, 1000],
    [900, 1600],
  ] as const;
  return Array.from({ length: count }, (_, index) => {
    const [width, height] = shapes[index % shapes.length] ?? [1, 1];
    const takenAt = new Date(Date.UTC(2024, 11, 31, 12) - index * hours * 3_600_000).toISOString();
    return photo(index, takenAt, width, height);
  });
}

const options = { width: 1000, rowHeight: 200, gap: 4, headingHeight: 60, more: false };
const rows = (blocks: Block[]) => blocks.filter((block) => block.kind === 'row');

describe('gallery layout', () => {
  test('full rows fill the width exactly, with the gap between tiles', () => {
    const layout = layoutGallery(manyPhotos(200), options);
    for (const row of rows(layout.blocks)) {
      const last = row.tiles.at(-1);
      if (!last || row.height >= options.rowHeight) continue; // a month's last, unstretched row
      expect(last.x + last.width).toBe(options.width);
      row.tiles.slice(1).forEach((tile, index) => {
        const before = row.tiles[index];
        expect(before && tile.x - (before.x + before.width)).toBe(options.gap);
      });
    }
  });

  test('a month’s last row keeps the usual height instead of growing to fill the width', () => {
    const layout = layoutGallery([photo(1, '2024-05-01T10:00:00Z')], options);
    const [heading, row] = layout.blocks;
    expect(heading).toMatchObject({ kind: 'heading', label: 'May 2024', count: 1, countLabel: '1 photo' });
    expect(row).toMatchObject({ kind: 'row', height: 200 });
  });

  test('a month’s heading counts photos and videos apart, with a "+" while more may arrive', () => {
    const video = (id: number, takenAt: string): Photo => ({ ...photo(id, takenAt), kind: 'video', durationMs: 2000 });
    const labels = (photos: Photo[], more = false) =>
      layoutGallery(photos, { ...options, more })
        .blocks.filter((block) => block.kind === 'heading')
        .map((block) => (block.kind === 'heading' ? block.countLabel : ''));

    expect(labels([video(1, '2024-05-03T10:00:00Z')])).toEqual(['1 video']);
    expect(
      labels([photo(1, '2024-05-03T10:00:00Z'), video(2, '2024-05-02T10:00:00Z'), photo(3, '2024-05-01T10:00:00Z')]),
    ).toEqual(['2 photos, 1 video']);
    expect(labels([photo(1, '2024-06-01T10:00:00Z'), photo(2, '2024-05-01T10:00:00Z')], true)).toEqual([
      '1 photo',
      '1+ photos',
    ]);
  });

  test('every photo appears once, in order, under the heading of the month it was taken', () => {
    const photos = manyPhotos(500);
    const layout = layoutGallery(photos, options);
    const seen: Photo[] = [];
    let month = '';
    for (const block of layout.blocks) {
      if (block.kind === 'heading') {
        month = block.label;
        continue;
      }
      for (const tile of block.tiles) {
        expect(
          new Date(tile.photo.takenAt).toLocaleString('en-GB', { month: 'long', year: 'numeric', timeZone: 'UTC' }),
        ).toBe(month);
        expect(photos[tile.index]).toBe(tile.photo);
        seen.push(tile.photo);
      }
    }
    expect(seen).toEqual(photos);
  });

  test('blocks stack without overlapping, and the height is where the last one ends', () => {
    const layout = layoutGallery(manyPhotos(300), options);
    let bottom = 0;
    for (const block of layout.blocks) {
      expect(block.y).toBeGreaterThanOrEqual(bottom);
      bottom = block.y + block.height;
    }
    expect(layout.height).toBeGreaterThanOrEqual(bottom);
    expect(layout.height - bottom).toBeLessThanOrEqual(options.gap + 1);
  });

  test('a panorama is cropped to a sensible shape instead of making a sliver of a row', () => {
    const layout = layoutGallery([photo(1, '2024-05-01T10:00:00Z', 20_000, 1000)], options);
    const row = rows(layout.blocks)[0];
    expect(row?.height).toBeGreaterThan(100);
  });

  test('the first block below a point is found by binary search, as a linear scan would find it', () => {
    const layout = layoutGallery(manyPhotos(5000, 3), options);
    for (const y of [-100, 0, 1, 59, 60, 500, 12_345, layout.height / 2, layout.height - 1, layout.height + 10]) {
      const linear = layout.blocks.findIndex((block) => block.y + block.height >= y);
      expect(firstBlockBelow(layout.blocks, y)).toBe(linear === -1 ? layout.blocks.length : linear);
    }
  });

  test('photos sort newest taken first, ties broken by the newest id', () => {
    const a = photo(1, '2024-05-01T10:00:00Z');
    const b = photo(2, '2024-05-01T10:00:00Z');
    const c = photo(3, '2023-01-01T10:00:00Z');
    expect([c, a, b].sort(comparePhotos)).toEqual([b, a, c]);
  });
});
