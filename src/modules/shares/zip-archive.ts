import type { Readable } from 'node:stream';

import { ZipFile } from 'yazl';

/** One file of a ZIP: its name, its exact size, and how to open its bytes when its turn comes. */
export interface ZipEntry {
  name: string;
  size: number;
  mtime: number;
  open(): Promise<Readable>;
}

export interface ZipArchive {
  stream: Readable;
  /** The archive's exact size: every entry is stored (photos do not compress) with a known size. */
  length: number | undefined;
}

/**
 * A ZIP streamed entry by entry: each entry's bytes are opened only when the previous one is
 * written, so however many photos it holds, one object is open and nothing is held whole. Entries
 * are stored, not deflated (JPEG, PNG and WebP are compressed already). A failure to read an
 * entry ends the stream with that error (the client sees a cut-off download).
 */
export function zipArchive(entries: readonly ZipEntry[]): ZipArchive {
  const zip = new ZipFile();
  const stream = zip.outputStream as Readable;
  zip.on('error', (error: Error) => stream.destroy(error));
  const names = uniqueNames(entries.map((entry) => entry.name));
  entries.forEach((entry, i) => {
    zip.addReadStreamLazy(
      names[i]!,
      { size: entry.size, compress: false, mtime: new Date(entry.mtime) },
      (callback: (error: unknown, stream: NodeJS.ReadableStream) => void) => {
        entry.open().then(
          (opened) => callback(null, opened),
          (error: unknown) => callback(error, undefined as unknown as NodeJS.ReadableStream),
        );
      },
    );
  });
  let length: number | undefined;
  // yazl reports the total size to end()'s callback (typed without its argument in @types/yazl).
  const end = zip.end.bind(zip) as unknown as (options: object, onSize: (total: number) => void) => void;
  end({}, (total) => {
    length = total >= 0 ? total : undefined;
  });
  return { stream, length };
}

/** The names as given, with " (2)", " (3)"… before the extension of a repeated one (case-insensitively). */
function uniqueNames(names: readonly string[]): string[] {
  const taken = new Set<string>();
  return names.map((name) => {
    const safe = name.replace(/[/\\]/g, '_').replace(/^\.+/, '_') || 'image';
    let candidate = safe;
    const dot = safe.lastIndexOf('.');
    const [stem, ext] = dot > 0 ? [safe.slice(0, dot), safe.slice(dot)] : [safe, ''];
    for (let n = 2; taken.has(candidate.toLowerCase()); n++) candidate = `${stem} (${n})${ext}`;
    taken.add(candidate.toLowerCase());
    return candidate;
  });
}
