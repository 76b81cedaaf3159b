import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { apiClient, newCredentials, type ImageBody } from '../helpers/api.js';
import { makePhoto, sha256 } from '../helpers/photos.js';
import { runPixa, startPod, stopProcess, type StartedPod } from '../helpers/pod.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { SERVICE_NAMES, type ServiceName } from '../../src/config/service-table.js';

const INTERNAL: Exclude<ServiceName, 'gateway'>[] = ['auth', 'storage', 'storage-monitor', 'usage-monitor'];

/**
 * The core user journey against a running Pixa: register, upload (and upload again), list, fetch
 * thumbnail, preview and original (whole and a range), usage, delete, sign out. It runs unchanged
 * against the embedded process and the five-process pod: the modes differ only in how the gateway
 * reaches the services.
 */
async function userJourney(baseUrl: string): Promise<void> {
  const client = apiClient(baseUrl);
  const { username, password } = newCredentials('journey');
  const registered = await client.register(username, password);
  expect(registered.status, JSON.stringify(registered.body)).toBe(201);
  const token = registered.body.token;

  const photos = [
    await makePhoto({ seed: 11, width: 900, height: 600 }),
    await makePhoto({ seed: 12, width: 640, height: 960 }),
  ];
  const uploaded = await client.upload(token, [
    { name: 'första.jpg', data: photos[0]!, type: 'image/jpeg' },
    { name: 'second "one".jpg', data: photos[1]!, type: 'image/jpeg' },
  ]);
  expect(uploaded.status, JSON.stringify(uploaded.body)).toBe(201);
  expect(uploaded.body.images.map((image) => image.filename)).toEqual(['första.jpg', 'second "one".jpg']);
  const again = await client.upload(token, [{ name: 'again.jpg', data: photos[0]!, type: 'image/jpeg' }]);
  expect(again.status).toBe(200);
  expect(again.body.images[0]!.duplicate).toBe(true);

  const listed = await client.list(token);
  expect(listed.status).toBe(200);
  expect(listed.body.items).toHaveLength(2);
  const byName = new Map<string, ImageBody>(listed.body.items.map((image) => [image.filename, image]));
  const first = byName.get('första.jpg')!;

  const thumbnail = await client.fetchMedia(first.urls.thumbnail);
  expect(thumbnail.status).toBe(200);
  expect(thumbnail.headers.get('content-type')).toBe('image/webp');
  const preview = await client.fetchMedia(first.urls.preview);
  expect(preview.status).toBe(200);
  for (const [index, name] of ['första.jpg', 'second "one".jpg'].entries()) {
    const original = await client.fetchMedia(byName.get(name)!.urls.original);
    expect(original.status).toBe(200);
    expect(original.headers.get('etag')).toBe(`"${sha256(photos[index]!)}"`);
    expect(sha256(original.body)).toBe(sha256(photos[index]!));
  }
  const range = await client.fetchMedia(first.urls.original, { range: 'bytes=100-199' });
  expect(range.status).toBe(206);
  expect(range.headers.get('content-range')).toBe(`bytes 100-199/${photos[0]!.length}`);
  expect(Buffer.compare(range.body, photos[0]!.subarray(100, 200))).toBe(0);
  const download = await client.fetchMedia(first.urls.download);
  expect(download.headers.get('content-disposition')).toContain("filename*=UTF-8''f%C3%B6rsta.jpg");

  // Revalidation and HEAD open nothing and charge nothing: the usage figures below would show it.
  const cachedPreview = await client.fetchMedia(first.urls.preview, { 'if-none-match': preview.headers.get('etag')! });
  expect(cachedPreview.status).toBe(304);
  expect(cachedPreview.headers.get('etag')).toBe(preview.headers.get('etag'));
  const cachedThumbnail = await client.request('GET', `/api/v1/images/${first.id}/thumbnail`, {
    token,
    headers: { 'if-none-match': thumbnail.headers.get('etag')! },
  });
  expect(cachedThumbnail.status).toBe(304);
  const cachedRange = await client.fetchMedia(first.urls.original, {
    'if-none-match': `"${sha256(photos[0]!)}"`,
    range: 'bytes=0-99',
  });
  expect(cachedRange.status).toBe(304);
  const head = await fetch(new URL(first.urls.original, baseUrl), { method: 'HEAD' });
  expect(head.status).toBe(200);
  expect(head.headers.get('etag')).toBe(`"${sha256(photos[0]!)}"`);
  expect(Number(head.headers.get('content-length'))).toBe(photos[0]!.length);

  const usage = await client.usage(token);
  expect(usage.status).toBe(200);
  const originals = photos[0]!.length + photos[1]!.length;
  expect(usage.body.storage.usedBytes).toBeGreaterThan(originals);
  // Received: both photos, and the first once more (a duplicate is stored once but was transferred).
  expect(usage.body.transfer.inBytes).toBe(originals + photos[0]!.length);
  // Sent: both originals, the range, the download and one preview; thumbnails are free.
  expect(usage.body.transfer.outBytes).toBe(originals + 100 + photos[0]!.length + preview.body.length);

  const removed = await client.deleteForGood(token, first.id);
  expect(removed.status).toBe(204);
  expect((await client.list(token)).body.items.map((image) => image.id)).not.toContain(first.id);
  expect((await client.fetchMedia(first.urls.original)).status).toBe(404);
  const after = await client.usage(token);
  expect(after.body.storage.usedBytes).toBeLessThan(usage.body.storage.usedBytes);
  expect(after.body.storage.usedBytes).toBeGreaterThan(photos[1]!.length);

  expect((await client.logout(token)).status).toBe(204);
  expect((await client.list(token)).status).toBe(401);
}

describe('embedded mode', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  test('user journey › works end to end in one process', async () => {
    await userJourney(server.url);
  });
});

describe('pod mode (five processes)', () => {
  let pod: StartedPod;
  beforeAll(async () => {
    pod = await startPod({ env: { PIXA_MAX_UPLOAD_MB: '1' } });
  });
  afterAll(async () => {
    await pod?.stop();
  });

  test('user journey › works end to end with every service in its own process', async () => {
    await userJourney(pod.gatewayUrl);
  });

  test.each(INTERNAL)('internal port of %s › without or with a wrong token answers 401 JSON', async (service) => {
    const url = `http://127.0.0.1:${pod.ports[service]}/internal/users/${randomBytes(4).toString('hex')}/storage-usage`;
    const attempts: Record<string, string>[] = [
      {},
      { 'x-pixa-internal-token': 'wrong' },
      { 'x-pixa-internal-token': `${pod.internalToken}x` },
    ];
    for (const headers of attempts) {
      const response = await fetch(url, { headers });
      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toContain('application/json');
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    }
  });

  test('internal port › with the token answers', async () => {
    const { token } = (await apiClient(pod.gatewayUrl).register(...credentials('inner'))).body;
    const me = await apiClient(pod.gatewayUrl).me(token);
    const response = await fetch(
      `http://127.0.0.1:${pod.ports['storage-monitor']}/internal/users/${me.body.id}/storage-usage`,
      {
        headers: { 'x-pixa-internal-token': pod.internalToken },
      },
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ usedBytes: 0 });
  });

  test.each(SERVICE_NAMES)('%s › answers /healthz, /readyz and /metrics without a token', async (service) => {
    const base = `http://127.0.0.1:${pod.ports[service]}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready' });
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    const text = await metrics.text();
    expect(text).toContain(`pixa_http_requests_total{service="${service}"`);
    expect(text).toContain('pixa_http_request_duration_seconds_bucket');
  });

  test('request id › a request’s id is in the logs of the gateway and of the service it called', async () => {
    const client = apiClient(pod.gatewayUrl);
    const [username, password] = credentials('reqid');
    const { token } = (await client.register(username, password)).body;
    /** The services whose logs hold `requestId`. */
    const logged = async (requestId: string): Promise<ServiceName[]> => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      return SERVICE_NAMES.filter((service) => pod.logLines(service).some((line) => line.reqId === requestId));
    };

    // An upload: the gateway checks the token itself and streams the photo to the storage service.
    const uploadId = `pod-test-${randomBytes(6).toString('hex')}`;
    const form = new FormData();
    form.append('file', new Blob([await makePhoto({ seed: 21, width: 300, height: 200 })]), 'traced.jpg');
    const uploaded = await fetch(`${pod.gatewayUrl}/api/v1/images`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'x-request-id': uploadId },
      body: form,
    });
    expect(uploaded.status).toBe(201);
    expect(uploaded.headers.get('x-request-id')).toBe(uploadId);
    expect(await logged(uploadId)).toEqual(expect.arrayContaining(['gateway', 'storage']));

    // A sign-in: the auth service checks the password.
    const loginId = `pod-test-${randomBytes(6).toString('hex')}`;
    const login = await fetch(`${pod.gatewayUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': loginId },
      body: JSON.stringify({ username, password }),
    });
    expect(login.status).toBe(200);
    expect(await logged(loginId)).toEqual(expect.arrayContaining(['gateway', 'auth']));
  });

  test('errors › cross the internal hop with their status, code, message and Retry-After', async () => {
    const client = apiClient(pod.gatewayUrl);
    const [username, password] = credentials('errs');
    const { token } = (await client.register(username, password)).body;

    const notAnImage = await client.upload(token, [
      { name: 'notes.txt', data: Buffer.from('just some text, no pixels') },
    ]);
    expect(notAnImage.status).toBe(415);
    expect(notAnImage.body.error.code).toBe('unsupported_media_type');
    expect(notAnImage.body.error.message).toContain('notes.txt');

    // The gateway stops this file at the limit, while it is streaming it to the storage service.
    const big = Buffer.concat([await makePhoto({ seed: 41, width: 400, height: 300 }), randomBytes(1_200_000)]);
    const tooLarge = await client.upload(token, [{ name: 'huge.jpg', data: big, type: 'image/jpeg' }]);
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.error.code).toBe('file_too_large');
    expect(tooLarge.body.error.message).toContain('huge.jpg');

    const quota = runPixa(['user', 'set-quota', username, '--transfer-mb', '0.001'], pod.env);
    expect(quota.status, quota.output).toBe(0);
    const photo = await makePhoto({ seed: 42, width: 600, height: 400 });
    const overQuota = await client.upload(token, [{ name: 'over.jpg', data: photo, type: 'image/jpeg' }]);
    expect(overQuota.status).toBe(429);
    expect(overQuota.body.error.code).toBe('transfer_quota_exceeded');
    expect(Number(overQuota.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await client.list(token)).body.items).toEqual([]);

    const storageMetrics = await (await fetch(`http://127.0.0.1:${pod.ports.storage}/metrics`)).text();
    expect(storageMetrics).toMatch(/pixa_quota_rejections_total\{quota="transfer"\} [1-9]/);
  });

  test('metrics › uploads counted by the storage service, bytes sent by the gateway that sent them', async () => {
    const storage = await (await fetch(`http://127.0.0.1:${pod.ports.storage}/metrics`)).text();
    expect(storage).toMatch(/pixa_uploaded_images_total\{result="stored"\} [1-9]/);
    expect(storage).toMatch(/pixa_image_bytes_total\{direction="in"\} [1-9]/);
    // The gateway reads media from the store itself: their bytes are counted there, once.
    const gateway = await (await fetch(`${pod.gatewayUrl}/metrics`)).text();
    expect(gateway).toMatch(/pixa_image_bytes_total\{direction="out"\} [1-9]/);
    expect(storage).not.toMatch(/pixa_image_bytes_total\{direction="out"\} [1-9]/);
  });
});

describe('pod mode › a service goes away', () => {
  let pod: StartedPod;
  beforeAll(async () => {
    pod = await startPod({ env: { PIXA_SHUTDOWN_GRACE_SECONDS: '30' } });
  });
  afterAll(async () => {
    await pod?.stop();
  });

  test('SIGTERM › an upload in flight completes, then every process exits 0', async () => {
    const client = apiClient(pod.gatewayUrl);
    const { token } = (await client.register(...credentials('term'))).body;
    const photo = await makePhoto({ seed: 31, width: 1600, height: 1200 });
    const boundary = `b${randomBytes(8).toString('hex')}`;
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="slow.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`,
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const chunks = [head, ...split(photo, 8), tail];
    let sent = 0;
    // The body trickles in over about two seconds; the SIGTERMs arrive while it does.
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const chunk = chunks[sent++];
        if (!chunk) return controller.close();
        if (sent > 2) await new Promise((resolve) => setTimeout(resolve, 250));
        controller.enqueue(chunk);
      },
    });
    const upload = fetch(`${pod.gatewayUrl}/api/v1/images`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': `multipart/form-data; boundary=${boundary}` },
      body,
      duplex: 'half',
    } as RequestInit);
    // The SIGTERMs arrive once the storage service is staging the body, half of it still to come.
    const staging = path.join(pod.dataDir, 'tmp');
    const isStaging = async () => (await readdir(staging).catch(() => [])).some((name) => name.endsWith('.upload'));
    while (!(await isStaging())) await new Promise((resolve) => setTimeout(resolve, 20));
    const exits = SERVICE_NAMES.map((service) => stopProcess(pod.processes[service], 25_000));

    const response = await upload;
    expect(response.status, await response.clone().text()).toBe(201);
    const [image] = ((await response.json()) as { images: ImageBody[] }).images;
    expect(image!.size).toBe(photo.length);
    expect(await Promise.all(exits)).toEqual(SERVICE_NAMES.map(() => 0));
  });
});

describe('pod mode › a service is down', () => {
  let pod: StartedPod;
  let token: string;
  beforeAll(async () => {
    pod = await startPod();
    token = (await apiClient(pod.gatewayUrl).register(...credentials('down'))).body.token;
  });
  afterAll(async () => {
    await pod?.stop();
  });

  test('usage monitor down › /api/v1/usage answers 503 naming it; the gallery still lists', async () => {
    const client = apiClient(pod.gatewayUrl);
    pod.processes['usage-monitor'].child.kill('SIGKILL');
    await pod.processes['usage-monitor'].exited;
    const usage = await client.request<{ error: { code: string; message: string } }>('GET', '/api/v1/usage', { token });
    expect(usage.status).toBe(503);
    expect(usage.body.error.code).toBe('service_unavailable');
    expect(usage.body.error.message).toContain('transfer usage');
    expect((await client.list(token)).status).toBe(200);
  });

  test('storage down › registering answers 503 and leaves no account behind', async () => {
    const client = apiClient(pod.gatewayUrl);
    pod.processes.storage.child.kill('SIGKILL');
    await pod.processes.storage.exited;
    const [username, password] = credentials('half');
    const response = await client.register(username, password);
    expect(response.status).toBe(503);
    expect(response.body.error.code).toBe('service_unavailable');
    expect(response.body.error.message).toContain('Photo storage');
    expect(response.headers.get('retry-after')).toBeTruthy();
    // The auth leg succeeded and was undone: the password signs nobody in.
    expect((await client.login(username, password)).status).toBe(401);
    const ready = await fetch(`${pod.gatewayUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'not_ready', storage: 'unavailable', auth: 'ok' });
  });
});

function credentials(prefix: string): [string, string] {
  const { username, password } = newCredentials(prefix);
  return [username, password];
}

function split(data: Buffer, parts: number): Buffer[] {
  const size = Math.ceil(data.length / parts);
  return Array.from({ length: parts }, (_, index) => data.subarray(index * size, (index + 1) * size));
}
