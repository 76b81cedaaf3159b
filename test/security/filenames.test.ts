import { readdir } from 'node:fs/promises';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { signedUpUser, type ImageBody } from '../helpers/api.js';
import { makePhoto } from '../helpers/photos.js';
import { startTestServer, storedKeys, type TestServer } from '../helpers/server.js';
import { filesUnder } from '../faults/support/integrity.js';
import { filePart, multipartBody, newBoundary, rawRequest, uploadRequest } from '../faults/support/raw-http.js';

let server: TestServer;
let api: TestServer['client'];

beforeAll(async () => {
  server = await startTestServer();
  api = server.client;
});
afterAll(() => server?.close());

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const OBJECT_KEY = new RegExp(`^${UUID}/${UUID}/(original|thumb\\.webp|preview\\.webp)$`);
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/** Half of a surrogate pair on its own: not well-formed Unicode (String#isWellFormed is ES2024). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Hostile names, each sent byte for byte in a hand-made multipart body (no client library tidies them). */
const NAMES: [string, string][] = [
  ['a path that climbs out', '../../etc/passwd'],
  ['an absolute path', '/etc/passwd'],
  ['a Windows path', '..\\..\\windows\\system32\\evil.jpg'],
  ['a double extension', 'a.jpg.php'],
  ['an encoded NUL', 'photo%00.php.jpg'],
  ['a raw NUL', 'photo\u0000.php.jpg'],
  ['1,000 characters', `${'x'.repeat(996)}.jpg`],
  ['Unicode', 'Ünïcødé 写真 фото.jpg'],
  ['right-to-left marks and overrides', '\u200fphoto\u202egpj.exe\u202c\u2067.jpg'],
  ['only dots', '..'],
  ['HTML', '<img src=x onerror=alert(1)>.jpg'],
];

/** The checks every displayed name must pass, and the keys the upload must be stored under. */
async function expectStoredSafely(user: { token: string; userId: string }, image: ImageBody) {
  for (const shown of [image.filename, (await api.getImage(user.token, image.id)).body.filename]) {
    expect(shown).not.toMatch(/[/\\]/);
    expect(shown).not.toMatch(UNSAFE);
    expect(shown).not.toMatch(LONE_SURROGATE);
    expect([...shown].length).toBeLessThanOrEqual(255);
    expect(shown.length).toBeGreaterThan(0);
    expect(shown).not.toMatch(/^\.\.?$/);
  }
  const download = await api.fetchMedia(image.urls.download);
  expect(download.status).toBe(200);
  expect(download.headers.get('content-disposition')).toMatch(
    /^attachment; filename="[\x20-\x7e]*"; filename\*=UTF-8''[\x21-\x7e]+$/,
  );
  const keys = await storedKeys(server, `${user.userId}/`);
  expect(keys).toEqual(['original', 'preview.webp', 'thumb.webp'].map((v) => `${user.userId}/${image.id}/${v}`));
}

async function uploadNamed(token: string, name: string, seed: number) {
  const boundary = newBoundary();
  const data = await makePhoto({ width: 120, height: 80, seed });
  const body = multipartBody(boundary, [filePart(name, data, 'image/jpeg')]);
  const res = await rawRequest(server.url, uploadRequest(server.url, token, boundary, body));
  return { status: res.status, body: res.body ? (JSON.parse(res.body) as { images: ImageBody[] }) : undefined };
}

describe('filenames', () => {
  test.each(NAMES.map(([label, name], index) => [label, name, index] as const))(
    'filenames › %s › stored under a generated key, shown as a clean name',
    async (_label, name, index) => {
      const user = await signedUpUser(api, 'names');

      const res = await uploadNamed(user.token, name, 700 + index);

      expect(res.status).toBe(201);
      await expectStoredSafely(user, res.body!.images[0]!);
    },
  );

  test('filenames › 1,000 emoji (surrogate pairs) › cut on a character boundary, well-formed', async () => {
    const user = await signedUpUser(api, 'names');

    const res = await uploadNamed(user.token, `${'📷'.repeat(1000)}.jpg`, 799);

    expect(res.status).toBe(201);
    await expectStoredSafely(user, res.body!.images[0]!);
  });

  test('filenames › after every hostile upload › the data directory holds only Pixa’s own files and keys', async () => {
    const top = (await readdir(server.dataDir)).sort();
    expect(
      top.filter((entry) => !/^(objects|tmp|pixa\.db(-wal|-shm)?|secret\.key|internal\.token)$/.test(entry)),
    ).toEqual([]);

    const keys = await storedKeys(server);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.filter((key) => !OBJECT_KEY.test(key))).toEqual([]);
    expect(await filesUnder(path.join(server.dataDir, 'tmp'))).toEqual([]);
    // Nothing landed beside the data directory either (where `../../x` from objects/<user>/ would go).
    const parent = await readdir(path.dirname(server.dataDir));
    expect(parent.filter((entry) => /passwd|\.php|evil/.test(entry))).toEqual([]);
  });
});
