import type { ByteRange } from '../storage/object-store.js';

// Not `range-parser` nor `content-disposition` (bench/media-headers.js measures both, docs/BENCHMARKS.md
// has the figures): range-parser answers 416 where RFC 9110 says to ignore the header (last before
// first) or to send the whole object (a suffix longer than it), and costs 3-5x more per call;
// content-disposition still needs this ASCII fallback and costs 2.5-3x more, on every media response.

/**
 * Parses a single-range `Range` header against an object of `size` bytes. Returns undefined for no
 * (or an ignorable) header, and 'unsatisfiable' when the range lies outside the object.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  // Multi-range and other units are legal to ignore: the whole object is sent.
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  const [, from, to] = match;
  if (from === '') {
    const suffix = Number(to);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(from);
  // A last position before the first makes the header invalid, and RFC 9110 says to ignore it.
  if (to !== '' && Number(to) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end: to === '' ? size - 1 : Math.min(Number(to), size - 1) };
}

/** A Content-Disposition value per RFC 6266: an ASCII fallback plus the exact UTF-8 name. */
export function contentDisposition(type: 'inline' | 'attachment', filename: string): string {
  const fallback = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  const encoded = encodeURIComponent(filename).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `${type}; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
