import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { apiClient, newCredentials } from '../helpers/api.js';
import { makePhoto } from '../helpers/photos.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

interface UserData {
  username: string;
  storage_usage: number;
  bandwidth_usage: number;
  images_links: string[];
}

let server: TestServer;
let client: ReturnType<typeof apiClient>;
beforeAll(async () => {
  server = await startTestServer();
  client = apiClient(server.url);
});
afterAll(() => server?.close());

const authUser = (username: string, password: string) =>
  client.request<{ token: string; error?: { code: string; message: string } }>('POST', '/auth_user', {
    json: { username, password },
  });

const uploadImage = (token: string, data: Buffer, name = 'photo.jpg') => {
  const form = new FormData();
  form.append('file', new Blob([data], { type: 'image/jpeg' }), name);
  return client.request<UserData & { error: { code: string } }>('POST', '/upload_image', { token, form });
};

describe('original Pixa API', () => {
  test('auth_user › short inputs › answers 400 with the original message', async () => {
    const response = await authUser('  ab ', 'longenough-password');
    expect(response.status).toBe(400);
    expect(response.body.error?.message).toMatch(/cannot be smaller than 3 characters/);
  });

  test('auth_user › new name registers, known name must match its password', async () => {
    const { username, password } = newCredentials('legacy');
    const first = await authUser(username, password);
    expect(first.status).toBe(200);
    expect(first.body.token).toMatch(/^ey/);

    const again = await authUser(username, password);
    expect(again.status).toBe(200);

    const wrong = await authUser(username, 'not-the-password');
    expect(wrong.status).toBe(401);
    expect(wrong.body.error?.code).toBe('invalid_credentials');
  });

  test('journey › upload, load, fetch a link, delete › usage follows', async () => {
    const { username, password } = newCredentials('legacy');
    const { token } = (await authUser(username, password)).body;

    const empty = await client.request<UserData>('POST', '/load_user_data', { token });
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual({ username, storage_usage: 0, bandwidth_usage: 0, images_links: [] });

    const photo = await makePhoto({ seed: 7 });
    const uploaded = await uploadImage(token, photo);
    expect(uploaded.status).toBe(200);
    expect(uploaded.body.images_links).toHaveLength(1);
    expect(uploaded.body.storage_usage).toBeGreaterThan(0);
    expect(uploaded.body.bandwidth_usage).toBeGreaterThan(0);

    const link = uploaded.body.images_links[0]!;
    expect(new URL(link).search).not.toBe('');
    const image = await fetch(link);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/webp');

    const deleted = await client.request<UserData>('POST', '/delete_image', { token, json: { link } });
    expect(deleted.status).toBe(200);
    expect(deleted.body.images_links).toEqual([]);
    expect(deleted.body.storage_usage).toBe(0);
  });

  test('delete_image › another account’s link › is refused and the image stays', async () => {
    const owner = newCredentials('owner');
    const other = newCredentials('other');
    const ownerToken = (await authUser(owner.username, owner.password)).body.token;
    const otherToken = (await authUser(other.username, other.password)).body.token;
    const { images_links } = (await uploadImage(ownerToken, await makePhoto({ seed: 8 }))).body;

    const refused = await client.request<{ error: { code: string } }>('POST', '/delete_image', {
      token: otherToken,
      json: { link: images_links[0] },
    });
    expect(refused.status).toBe(404);
    const still = await client.request<UserData>('POST', '/load_user_data', { token: ownerToken });
    expect(still.body.images_links).toHaveLength(1);
  });

  test('upload_image and load_user_data › without a token › answer 401 JSON', async () => {
    const load = await client.request<{ error: { code: string } }>('POST', '/load_user_data');
    expect(load.status).toBe(401);
    expect(load.body.error.code).toBe('unauthorized');
    const upload = await uploadImage('', await makePhoto({ seed: 9 }));
    expect(upload.status).toBe(401);
  });

  test('upload_image › not an image › 415 and nothing stored', async () => {
    const { username, password } = newCredentials('legacy');
    const { token } = (await authUser(username, password)).body;
    const response = await uploadImage(token, Buffer.from('just some text, not a photo'), 'notes.jpg');
    expect(response.status).toBe(415);
    expect(response.body.error.code).toBe('unsupported_media_type');
    const data = await client.request<UserData>('POST', '/load_user_data', { token });
    expect(data.body.images_links).toEqual([]);
    expect(data.body.storage_usage).toBe(0);
  });

  test('delete_image › a link that is not Pixa’s › answers 400', async () => {
    const { username, password } = newCredentials('legacy');
    const { token } = (await authUser(username, password)).body;
    const response = await client.request<{ error: { code: string } }>('POST', '/delete_image', {
      token,
      json: { link: 'https://example.com/cat.jpg' },
    });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('invalid_link');
  });
});
