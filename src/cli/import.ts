import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';

import type { UploadedImage } from '../api/images.js';
import { TUS_CONTENT_TYPE, TUS_VERSION } from '../api/uploads.js';

/** Files the server takes, by extension; anything else in the folder is left alone. */
const SUPPORTED = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.avif', '.tif', '.tiff']);
/** Where a folder's import remembers hashes and unfinished uploads, so a second run sends nothing twice. */
export const STATE_FILE = '.pixa-import.json';
const CHECK_BATCH = 5000;
const CHUNK_BYTES = 8 * 1024 * 1024;
/** Times one file's bytes are sent again after a network failure, each time from the server's offset. */
const RETRIES = 3;

export interface ImportOptions {
  folder: string;
  server: string;
  user: string;
  password: string;
  concurrency: number;
  dryRun: boolean;
  /** Where progress and the summary go (stderr and stdout in the command). */
  progress: (line: string) => void;
  print: (line: string) => void;
  /** Bytes per PATCH; tests make it small to see a file sent in several. */
  chunkBytes?: number;
}

export interface ImportSummary {
  uploaded: string[];
  alreadyThere: string[];
  refused: { file: string; reason: string }[];
  failed: { file: string; reason: string }[];
  skipped: string[];
  /** Bytes sent in PATCH requests this run (a resumed file sends only what the server lacked). */
  bytesSent: number;
  /** Set when the server refused for a quota: nothing more was sent. */
  quotaStop?: string;
}

interface Remembered {
  size: number;
  mtimeMs: number;
  sha256: string;
  /** The upload URL of a file whose upload started but did not finish. */
  location?: string;
  /** Why the server refused these bytes: not sent again while the file stays the same. */
  refused?: string;
}

interface FileEntry {
  relative: string;
  full: string;
  size: number;
  mtimeMs: number;
  sha256?: string;
}

class QuotaStop extends Error {}

/**
 * `pixa import`: hashes every supported file under the folder, asks the server which hashes the
 * account has, and sends the rest with tus, a few at a time, resuming any that an earlier run left
 * unfinished. Returns the summary; the exit code is 0 only when nothing failed.
 */
export async function runImport(options: ImportOptions): Promise<ImportSummary> {
  const summary: ImportSummary = { uploaded: [], alreadyThere: [], refused: [], failed: [], skipped: [], bytesSent: 0 };
  const base = options.server.replace(/\/+$/, '');
  const root = path.resolve(options.folder);
  const statePath = path.join(root, STATE_FILE);
  const state = await loadState(statePath);
  let saving = Promise.resolve();
  const save = () => {
    saving = saving.then(() => writeState(statePath, state)).catch(() => undefined);
    return saving;
  };

  const files: FileEntry[] = [];
  for await (const full of walk(root)) {
    const relative = path.relative(root, full);
    if (relative === STATE_FILE) continue;
    if (!SUPPORTED.has(path.extname(full).toLowerCase())) {
      summary.skipped.push(relative);
      continue;
    }
    const info = await stat(full);
    files.push({ relative, full, size: info.size, mtimeMs: info.mtimeMs });
  }
  files.sort((a, b) => a.relative.localeCompare(b.relative));

  // Hash, reusing what an earlier run computed for a file that has not changed since.
  const totalBytes = files.reduce((sum, file) => sum + file.size, 0);
  const meter = progressMeter('hashing', files.length, totalBytes, options.progress);
  for (const file of files) {
    const known = state[file.relative];
    if (known && known.size === file.size && known.mtimeMs === file.mtimeMs) file.sha256 = known.sha256;
    else file.sha256 = await hashFile(file.full, (bytes) => meter.bytes(bytes));
    if (known?.sha256 !== file.sha256)
      state[file.relative] = { size: file.size, mtimeMs: file.mtimeMs, sha256: file.sha256 };
    meter.file(known?.sha256 === file.sha256 ? file.size : 0);
  }
  meter.done();
  await save();

  const token = await signIn(base, options.user, options.password);
  const known = await knownHashes(base, token, [...new Set(files.map((file) => file.sha256!))]);
  const seen = new Set<string>();
  const toSend: FileEntry[] = [];
  for (const file of files) {
    const refused = state[file.relative]?.refused;
    if (known.has(file.sha256!) || seen.has(file.sha256!)) summary.alreadyThere.push(file.relative);
    else if (refused) summary.refused.push({ file: file.relative, reason: refused });
    else toSend.push(file);
    seen.add(file.sha256!);
  }

  if (options.dryRun) {
    const bytes = toSend.reduce((sum, file) => sum + file.size, 0);
    for (const file of toSend) options.print(`would send ${file.relative} (${formatBytes(file.size)})`);
    options.print(
      `${toSend.length} files (${formatBytes(bytes)}) would be sent; ${summary.alreadyThere.length} already there.`,
    );
    return summary;
  }

  const sendMeter = progressMeter(
    'sending',
    toSend.length,
    toSend.reduce((s, f) => s + f.size, 0),
    options.progress,
  );
  const queue = [...toSend];
  const chunkBytes = options.chunkBytes ?? CHUNK_BYTES;
  async function worker(): Promise<void> {
    for (let file = queue.shift(); file && !summary.quotaStop; file = queue.shift()) {
      try {
        const remembered = state[file.relative]!;
        const outcome = await sendFile(base, token, file, remembered, save, chunkBytes, (n) => {
          summary.bytesSent += n;
          sendMeter.bytes(n);
        });
        if (outcome.kind === 'uploaded') summary.uploaded.push(file.relative);
        else if (outcome.kind === 'already') summary.alreadyThere.push(file.relative);
        else {
          summary.refused.push({ file: file.relative, reason: outcome.reason });
          remembered.refused = outcome.reason;
        }
      } catch (error) {
        if (error instanceof QuotaStop) {
          summary.quotaStop ??= error.message;
          summary.failed.push({ file: file.relative, reason: 'not sent: quota reached' });
        } else {
          summary.failed.push({ file: file.relative, reason: (error as Error).message });
        }
      }
      sendMeter.file(0);
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
  sendMeter.done();
  for (const file of queue) summary.failed.push({ file: file.relative, reason: 'not sent: quota reached' });
  await save();
  return summary;
}

type Outcome = { kind: 'uploaded' } | { kind: 'already' } | { kind: 'refused'; reason: string };

/** Sends one file with tus: resumes its remembered upload if the server still has it, else creates one. */
async function sendFile(
  base: string,
  token: string,
  file: FileEntry,
  remembered: Remembered,
  save: () => Promise<void>,
  chunkBytes: number,
  sent: (bytes: number) => void,
): Promise<Outcome> {
  const headers = { 'tus-resumable': TUS_VERSION, authorization: `Bearer ${token}` };
  let location = remembered.location;
  let offset = 0;
  if (location) {
    const head = await fetch(base + location, { method: 'HEAD', headers });
    if (head.ok && head.headers.get('upload-length') === String(file.size)) {
      offset = Number(head.headers.get('upload-offset'));
    } else {
      location = undefined;
    }
  }
  if (!location) {
    const created = await fetch(`${base}/api/v1/uploads`, {
      method: 'POST',
      headers: {
        ...headers,
        'upload-length': String(file.size),
        'upload-metadata': `filename ${b64(path.basename(file.full))},sha256 ${b64(file.sha256!)}`,
      },
    });
    if (created.status === 200) return { kind: 'already' };
    if (created.status === 413 || created.status === 429) {
      const message = await errorMessage(created);
      if (/quota/i.test(message)) throw new QuotaStop(message);
      return { kind: 'refused', reason: message };
    }
    if (created.status !== 201) throw new Error(await errorMessage(created));
    location = created.headers.get('location')!;
    remembered.location = location;
    await save();
  }

  let state: string | null = null;
  for (let attempt = 0; offset < file.size;) {
    const end = Math.min(file.size, offset + chunkBytes);
    const chunk = await readRange(file.full, offset, end);
    let response: Response;
    try {
      response = await fetch(base + location, {
        method: 'PATCH',
        headers: {
          ...headers,
          'content-type': TUS_CONTENT_TYPE,
          'upload-offset': String(offset),
          'upload-checksum': `sha256 ${createHash('sha256').update(chunk).digest('base64')}`,
        },
        body: chunk,
      });
    } catch (error) {
      // The connection failed: ask where the upload stands and go on from there.
      if (++attempt > RETRIES) throw error;
      const head = await fetch(base + location, { method: 'HEAD', headers });
      if (!head.ok) throw new Error(await errorMessage(head));
      offset = Number(head.headers.get('upload-offset'));
      continue;
    }
    if (response.status === 460 || response.status === 409 || response.status >= 500) {
      await response.arrayBuffer();
      if (++attempt > RETRIES) throw new Error(`the server answered ${response.status} ${response.statusText}`);
      const head = await fetch(base + location, { method: 'HEAD', headers });
      offset = Number(head.headers.get('upload-offset'));
      continue;
    }
    if (response.status !== 204) throw new Error(await errorMessage(response));
    sent(end - offset);
    offset = Number(response.headers.get('upload-offset'));
    state = response.headers.get('pixa-upload-state');
  }
  if (state === null) {
    state = (await fetch(base + location, { method: 'HEAD', headers })).headers.get('pixa-upload-state');
  }
  const result = await fetch(`${base}${location}/result`, { headers });
  delete remembered.location;
  await save();
  if (result.ok) return ((await result.json()) as UploadedImage).duplicate ? { kind: 'already' } : { kind: 'uploaded' };
  return { kind: 'refused', reason: await errorMessage(result) };
}

/** The closing lines: what was sent, what was there, what the server refused and why, what failed. */
export function formatSummary(summary: ImportSummary): string {
  const lines = [
    `uploaded: ${summary.uploaded.length}`,
    `already there: ${summary.alreadyThere.length}`,
    `refused: ${summary.refused.length}`,
    ...summary.refused.map(({ file, reason }) => `  ${file}: ${reason}`),
    `failed: ${summary.failed.length}`,
    ...summary.failed.map(({ file, reason }) => `  ${file}: ${reason}`),
    `skipped (not a photo type Pixa takes): ${summary.skipped.length}`,
  ];
  if (summary.quotaStop) lines.push(`Stopped: ${summary.quotaStop}`);
  return `${lines.join('\n')}\n`;
}

async function signIn(base: string, username: string, password: string): Promise<string> {
  const response = await fetch(`${base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!response.ok) throw new Error(`Signing in as ${username} failed: ${await errorMessage(response)}`);
  return ((await response.json()) as { token: string }).token;
}

async function knownHashes(base: string, token: string, hashes: string[]): Promise<Set<string>> {
  const known = new Set<string>();
  for (let i = 0; i < hashes.length; i += CHECK_BATCH) {
    const response = await fetch(`${base}/api/v1/images/check`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ sha256: hashes.slice(i, i + CHECK_BATCH) }),
    });
    if (!response.ok) throw new Error(`Asking which photos are there failed: ${await errorMessage(response)}`);
    for (const hash of ((await response.json()) as { known: string[] }).known) known.add(hash);
  }
  return known;
}

async function errorMessage(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    return (JSON.parse(text) as { error: { message: string } }).error.message;
  } catch {
    return `the server answered ${response.status} ${response.statusText}`;
  }
}

async function* walk(dir: string): AsyncGenerator<string> {
  const entries = await readdir(dir, { withFileTypes: true });
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(full);
    else if (entry.isFile()) yield full;
  }
}

async function hashFile(file: string, onBytes: (bytes: number) => void): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    onBytes(chunk.length);
  }
  return hash.digest('hex');
}

async function readRange(file: string, start: number, end: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(end - start);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, start);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

async function loadState(file: string): Promise<Record<string, Remembered>> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Record<string, Remembered>;
  } catch {
    return {};
  }
}

/** Written to a temp file and renamed, so an interrupted run never leaves half a state file. */
async function writeState(file: string, state: Record<string, Remembered>): Promise<void> {
  const temp = `${file}.tmp`;
  await writeFile(temp, JSON.stringify(state, null, 1));
  await rename(temp, file);
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

export function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** Progress lines: files and bytes done, the rate, and the time left at that rate. */
function progressMeter(label: string, files: number, totalBytes: number, write: (line: string) => void) {
  const started = Date.now();
  let doneFiles = 0;
  let doneBytes = 0;
  let lastWrite = 0;
  const render = (force = false) => {
    const now = Date.now();
    if (!force && now - lastWrite < 500) return;
    lastWrite = now;
    const seconds = Math.max(0.001, (now - started) / 1000);
    const rate = doneBytes / seconds;
    const eta = rate > 0 ? Math.ceil((totalBytes - doneBytes) / rate) : 0;
    write(
      `${label} ${doneFiles}/${files} files, ${formatBytes(doneBytes)}/${formatBytes(totalBytes)}, ` +
        `${formatBytes(rate)}/s, ETA ${eta} s`,
    );
  };
  return {
    bytes(n: number) {
      doneBytes += n;
      render();
    },
    file(bytesNotCounted: number) {
      doneFiles += 1;
      doneBytes += bytesNotCounted;
      render();
    },
    done: () => render(true),
  };
}

/** The password from PIXA_PASSWORD, else asked on the terminal. */
export async function readPassword(fromEnv: string | undefined, user: string): Promise<string> {
  if (fromEnv) return fromEnv;
  if (!process.stdin.isTTY) throw new Error('Set PIXA_PASSWORD, or run pixa import on a terminal to be asked.');
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  // Hide the typed characters: the prompt is written once, nothing typed is echoed.
  const output = rl as unknown as { _writeToOutput: (text: string) => void };
  process.stderr.write(`Password for ${user}: `);
  output._writeToOutput = () => {};
  const answer = await new Promise<string>((resolve) => rl.question('', resolve));
  rl.close();
  process.stderr.write('\n');
  return answer;
}
