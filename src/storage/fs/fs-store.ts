import { randomBytes } from 'node:crypto';
import { constants as fsConstants, createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';

import {
  assertRange,
  ObjectNotFoundError,
  StoreUnavailableError,
  type ByteRange,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
} from '../object-store.js';

/** Directory under the root that holds writes in progress; never a valid first key segment. */
const TMP_DIR = '.tmp';
const MAX_KEY_LENGTH = 1024;
/** Objects up to this size are read in one call instead of streamed. */
const SMALL_OBJECT_BYTES = 256 * 1024;

/**
 * Error codes that mean the volume itself is in trouble (unmounted, read-only, full, stale NFS handle),
 * not that one key is wrong: callers answer 503 for these.
 */
const UNAVAILABLE_CODES = new Set([
  'EACCES',
  'EPERM',
  'EROFS',
  'EIO',
  'ENOSPC',
  'EDQUOT',
  'ENOTCONN',
  'ESTALE',
  'ETIMEDOUT',
  'EHOSTDOWN',
]);

/**
 * Splits a key into path segments, or throws when the key could address anything outside the store:
 * absolute paths, `.`/`..`, empty segments, backslashes, NUL, or the temp directory.
 */
export function parseObjectKey(key: string): string[] {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new Error(`invalid object key: ${JSON.stringify(key)}`);
  }
  if (key.includes('\\') || key.includes('\0') || key.startsWith('/')) {
    throw new Error(`invalid object key: ${JSON.stringify(key)}`);
  }
  const segments = key.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..') || segments[0] === TMP_DIR) {
    throw new Error(`invalid object key: ${JSON.stringify(key)}`);
  }
  return segments;
}

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}

function translate(err: unknown, what: string): unknown {
  const code = errorCode(err);
  if (code !== undefined && UNAVAILABLE_CODES.has(code)) {
    return new StoreUnavailableError(`file store ${what} failed (${code})`, { cause: err });
  }
  return err;
}

/** fsync of a directory makes a rename durable; some network filesystems refuse it, which we accept. */
async function syncDir(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch (err) {
    const code = errorCode(err);
    if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EISDIR' && code !== 'EBADF') throw err;
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/**
 * An object store in a local directory (or a Kubernetes ReadWriteMany volume: NFS and SMB keep
 * rename atomic). Objects are plain files at `<root>/<key>`; writes go to `<root>/.tmp` first and are
 * renamed into place, so a reader sees the old object, the new one, or none, never a partial file.
 */
export function createFsStore(rootDir: string): ObjectStore {
  const root = path.resolve(rootDir);
  const tmpRoot = path.join(root, TMP_DIR);

  function resolveKey(key: string): string {
    const file = path.resolve(root, ...parseObjectKey(key));
    // parseObjectKey already forbids escaping; this guards against anything it might have missed.
    if (!file.startsWith(root + path.sep)) throw new Error(`invalid object key: ${JSON.stringify(key)}`);
    return file;
  }

  async function moveIntoPlace(tmp: string, file: string): Promise<void> {
    const dir = path.dirname(file);
    // A concurrent delete may remove the (then empty) parent between mkdir and rename: try again.
    for (let attempt = 0; ; attempt++) {
      await fs.mkdir(dir, { recursive: true });
      try {
        await fs.rename(tmp, file);
        break;
      } catch (err) {
        if (errorCode(err) !== 'ENOENT' || attempt >= 3) throw err;
      }
    }
    await syncDir(dir);
  }

  async function removeEmptyParents(file: string): Promise<void> {
    let dir = path.dirname(file);
    while (dir.startsWith(root + path.sep)) {
      try {
        await fs.rmdir(dir);
      } catch {
        return; // not empty, already gone, or busy: leaving a directory behind is harmless
      }
      dir = path.dirname(dir);
    }
  }

  async function* walk(dir: string, relative: string): AsyncGenerator<ObjectInfo> {
    let entries;
    try {
      entries = await fs.opendir(dir);
    } catch (err) {
      if (errorCode(err) === 'ENOENT' || errorCode(err) === 'ENOTDIR') return;
      throw translate(err, 'list');
    }
    for await (const entry of entries) {
      if (relative === '' && entry.name === TMP_DIR) continue;
      const key = relative === '' ? entry.name : `${relative}/${entry.name}`;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        yield* walk(full, key);
      } else if (entry.isFile()) {
        try {
          const st = await fs.stat(full);
          yield { key, size: st.size, modifiedAt: st.mtimeMs };
        } catch (err) {
          if (errorCode(err) !== 'ENOENT') throw translate(err, 'list');
          // deleted while we were listing: it is simply not there any more
        }
      }
    }
  }

  return {
    kind: 'fs',

    async put(key: string, body: Readable | Buffer, _options?: PutOptions): Promise<void> {
      let file: string;
      let handle: fs.FileHandle | undefined;
      const tmp = path.join(tmpRoot, `${Date.now()}-${randomBytes(12).toString('hex')}`);
      try {
        file = resolveKey(key);
        await fs.mkdir(tmpRoot, { recursive: true });
        handle = await fs.open(tmp, 'wx', 0o644);
        if (Buffer.isBuffer(body)) {
          await handle.writeFile(body);
        } else {
          // Plain writes, not handle.createWriteStream(): a stream left open on the handle makes the
          // handle.close() below wait forever.
          for await (const chunk of body) await handle.write(chunk as Buffer);
        }
        await handle.sync();
        await handle.close();
        handle = undefined;
        await moveIntoPlace(tmp, file);
      } catch (err) {
        if (!Buffer.isBuffer(body) && !body.destroyed) body.destroy();
        await handle?.close().catch(() => undefined);
        await fs.rm(tmp, { force: true }).catch(() => undefined);
        throw translate(err, 'put');
      }
    },

    async putFile(key: string, source: string, options?: PutOptions): Promise<void> {
      const file = resolveKey(key);
      const tmp = path.join(tmpRoot, `${Date.now()}-${randomBytes(12).toString('hex')}`);
      await fs.mkdir(tmpRoot, { recursive: true });
      try {
        // A hard link shares the bytes already on disk: no copy, and the source stays for the caller.
        await fs.link(source, tmp);
      } catch (err) {
        // Another filesystem, or one without hard links: copy the bytes instead.
        if (['EXDEV', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK'].includes(errorCode(err) ?? '')) {
          return this.put(key, createReadStream(source), options);
        }
        throw translate(err, 'put');
      }
      try {
        const handle = await fs.open(tmp, 'r');
        try {
          await handle.sync();
        } finally {
          await handle.close();
        }
        await moveIntoPlace(tmp, file);
      } catch (err) {
        await fs.rm(tmp, { force: true }).catch(() => undefined);
        throw translate(err, 'put');
      }
    },

    async get(key: string, range?: ByteRange): Promise<Readable> {
      const file = resolveKey(key);
      if (range) assertRange(range);
      // Open before returning so a missing key fails here, not later as a stream error.
      let handle: fs.FileHandle;
      try {
        handle = await fs.open(file, 'r');
      } catch (err) {
        const code = errorCode(err);
        if (code === 'ENOENT' || code === 'ENOTDIR') throw new ObjectNotFoundError(key);
        throw translate(err, 'get');
      }
      try {
        const st = await handle.stat();
        if (!st.isFile()) throw new ObjectNotFoundError(key);
        if (range && range.start >= st.size) {
          throw new RangeError(`range ${range.start}-${range.end} is outside ${key} (${st.size} bytes)`);
        }
        // Thumbnails and most previews are small: one read beats setting up a file stream.
        if (!range && st.size <= SMALL_OBJECT_BYTES) {
          const bytes = await handle.readFile();
          await handle.close();
          return Readable.from([bytes]);
        }
      } catch (err) {
        await handle.close().catch(() => undefined);
        throw translate(err, 'get');
      }
      return handle.createReadStream({ start: range?.start, end: range?.end });
    },

    async stat(key: string): Promise<ObjectInfo | undefined> {
      const file = resolveKey(key);
      try {
        const st = await fs.stat(file);
        return st.isFile() ? { key, size: st.size, modifiedAt: st.mtimeMs } : undefined;
      } catch (err) {
        const code = errorCode(err);
        if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
        throw translate(err, 'stat');
      }
    },

    async delete(key: string): Promise<void> {
      const file = resolveKey(key);
      try {
        await fs.unlink(file);
      } catch (err) {
        const code = errorCode(err);
        // EISDIR: the key names a directory of other objects, so there is no object to remove.
        if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return;
        throw translate(err, 'delete');
      }
      await removeEmptyParents(file);
    },

    async *list(prefix: string): AsyncIterable<ObjectInfo> {
      // Walk only the directory the prefix names fully, then filter by the rest of the prefix.
      if (prefix.startsWith('/') || prefix.includes('\\') || prefix.includes('\0')) {
        throw new Error(`invalid key prefix: ${JSON.stringify(prefix)}`);
      }
      const slash = prefix.lastIndexOf('/');
      const dirPart = slash === -1 ? '' : prefix.slice(0, slash);
      const startDir = dirPart === '' ? root : resolveKey(dirPart);
      for await (const info of walk(startDir, dirPart)) {
        if (info.key.startsWith(prefix)) yield info;
      }
    },

    async cleanupIncomplete(olderThanMs: number): Promise<number> {
      const cutoff = Date.now() - olderThanMs;
      let names: string[];
      try {
        names = await fs.readdir(tmpRoot);
      } catch (err) {
        if (errorCode(err) === 'ENOENT') return 0;
        throw translate(err, 'cleanup');
      }
      let removed = 0;
      for (const name of names) {
        const tmp = path.join(tmpRoot, name);
        try {
          const st = await fs.stat(tmp);
          if (st.mtimeMs >= cutoff) continue;
          await fs.rm(tmp, { force: true, recursive: true });
          removed++;
        } catch (err) {
          if (errorCode(err) !== 'ENOENT') throw translate(err, 'cleanup');
        }
      }
      return removed;
    },

    async ping(): Promise<void> {
      try {
        await fs.mkdir(tmpRoot, { recursive: true });
        await fs.access(root, fsConstants.R_OK | fsConstants.W_OK | fsConstants.X_OK);
        await fs.access(tmpRoot, fsConstants.R_OK | fsConstants.W_OK | fsConstants.X_OK);
      } catch (err) {
        throw new StoreUnavailableError(`file store at ${root} is not accessible (${errorCode(err) ?? 'error'})`, {
          cause: err,
        });
      }
    },

    async close(): Promise<void> {},
  };
}
