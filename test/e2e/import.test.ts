import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runImport, STATE_FILE, type ImportOptions } from '../../src/cli/import.js';
import { signedUpUser } from '../helpers/api.js';
import { makePhoto, sha256 } from '../helpers/photos.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let folder: string;

beforeAll(async () => {
  server = await startTestServer();
  folder = await mkdtemp(path.join(tmpdir(), 'pixa-import-'));
  await mkdir(path.join(folder, 'trip', 'day 2', 'evening'), { recursive: true });
  await writeFile(path.join(folder, 'one.jpg'), await makePhoto({ seed: 71, noise: true, width: 800, height: 600 }));
  await writeFile(path.join(folder, 'trip', 'two.png'), await makePhoto({ seed: 72, format: 'png', width: 300 }));
  await writeFile(
    path.join(folder, 'trip', 'day 2', 'evening', 'three.jpg'),
    await makePhoto({ seed: 73, noise: true, width: 900, height: 700 }),
  );
  await copyFile(path.join(folder, 'one.jpg'), path.join(folder, 'trip', 'copy of one.jpg'));
  await writeFile(path.join(folder, 'trip', 'notes.txt'), 'not a photo');
  await writeFile(path.join(folder, 'trip', 'fake.jpg'), 'text that claims to be a JPEG '.repeat(50));
});
afterAll(async () => {
  await server?.close();
  if (folder) await rm(folder, { recursive: true, force: true });
});

const options = (user: { username: string; password: string }, extra: Partial<ImportOptions> = {}): ImportOptions => ({
  folder,
  server: server.url,
  user: user.username,
  password: user.password,
  concurrency: 2,
  dryRun: false,
  progress: () => {},
  print: () => {},
  chunkBytes: 64 * 1024,
  ...extra,
});

describe('pixa import', () => {
  it('import › a nested folder with a duplicate, a non-photo and an interrupted upload › each photo sent once', async () => {
    const user = await signedUpUser(server.client);
    // An earlier run sent half of three.jpg and was stopped: its upload URL is in the state file.
    const three = path.join('trip', 'day 2', 'evening', 'three.jpg');
    const threeBytes = await readFile(path.join(folder, three));
    const half = Math.floor(threeBytes.length / 2);
    const headers = { 'tus-resumable': '1.0.0', authorization: `Bearer ${user.token}` };
    const created = await fetch(`${server.url}/api/v1/uploads`, {
      method: 'POST',
      headers: { ...headers, 'upload-length': String(threeBytes.length) },
    });
    const location = created.headers.get('location')!;
    await fetch(server.url + location, {
      method: 'PATCH',
      headers: { ...headers, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
      body: threeBytes.subarray(0, half),
    });
    const info = await stat(path.join(folder, three));
    await writeFile(
      path.join(folder, STATE_FILE),
      JSON.stringify({ [three]: { size: info.size, mtimeMs: info.mtimeMs, sha256: sha256(threeBytes), location } }),
    );

    const dry = await runImport(options(user, { dryRun: true }));
    expect(dry.bytesSent).toBe(0);
    expect((await server.client.list(user.token)).body.items).toHaveLength(0);

    const first = await runImport(options(user));

    expect(first.uploaded.sort()).toEqual([path.join('one.jpg'), path.join('trip', 'two.png'), three].sort());
    expect(first.alreadyThere).toEqual([path.join('trip', 'copy of one.jpg')]);
    expect(first.refused.map((r) => r.file)).toEqual([path.join('trip', 'fake.jpg')]);
    expect(first.refused[0]!.reason).toMatch(/JPEG, PNG/);
    expect(first.skipped).toEqual([path.join('trip', 'notes.txt')]);
    expect(first.failed).toEqual([]);
    // three.jpg's first half was not sent again.
    const sizes = await Promise.all(
      ['one.jpg', path.join('trip', 'two.png'), path.join('trip', 'fake.jpg')].map(
        async (file) => (await stat(path.join(folder, file))).size,
      ),
    );
    expect(first.bytesSent).toBe(sizes.reduce((a, b) => a + b, 0) + threeBytes.length - half);
    const items = (await server.client.list(user.token)).body.items;
    expect(items).toHaveLength(3);

    const second = await runImport(options(user));

    expect(second.bytesSent).toBe(0);
    expect(second.uploaded).toEqual([]);
    expect(second.alreadyThere).toHaveLength(4);
    expect(second.failed).toEqual([]);
    expect((await server.client.usage(user.token)).body.storage.reservedBytes).toBe(0);
  });

  it('import › past the storage quota › stops with the quota’s message, nothing half-stored, failures reported', async () => {
    const user = await signedUpUser(server.client);
    await server.db.updateTable('users').set({ storage_quota_bytes: 1000 }).where('id', '=', user.userId).execute();
    await rm(path.join(folder, STATE_FILE), { force: true });

    const summary = await runImport(options(user, { concurrency: 1 }));

    expect(summary.quotaStop).toMatch(/Storage quota/);
    expect(summary.uploaded).toEqual([]);
    expect(summary.failed.length).toBeGreaterThan(0);
    expect(summary.bytesSent).toBe(0);
    expect((await server.client.list(user.token)).body.items).toHaveLength(0);
    expect((await server.client.usage(user.token)).body.storage).toMatchObject({ usedBytes: 0, reservedBytes: 0 });
  });
});
