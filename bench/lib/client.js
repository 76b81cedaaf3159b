// The load side: a thin client over Pixa's public API and timed request loops. Load for serving
// comes from wrk (wrk.js), a native client on a core of its own.
import { randomBytes } from 'node:crypto';

import { Agent, request } from 'undici';

// Keep-alive connections, as a browser or the web UI holds them.
const agent = new Agent({ keepAliveTimeout: 30_000, connections: 64 });

/** Registers a fresh account; returns its token and id. */
export async function register(baseUrl, prefix = 'bench') {
  const username = `${prefix}_${randomBytes(5).toString('hex')}`;
  const password = `pw-${randomBytes(12).toString('base64url')}`;
  const body = await json(baseUrl, 'POST', '/api/v1/auth/register', { body: { username, password } });
  return { username, password, token: body.token, userId: body.user.id };
}

/** One authenticated JSON request; throws on anything but 2xx. */
export async function json(baseUrl, method, path, { token, body } = {}) {
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await request(new URL(path, baseUrl), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    dispatcher: agent,
  });
  const text = await response.body.text();
  if (response.statusCode >= 300)
    throw new Error(`${method} ${path} answered ${response.statusCode}: ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : undefined;
}

/**
 * Uploads files (`{name, data}`) in one multipart/form-data request, field `file` as the web UI sends
 * them; returns the created images. The body is assembled up front so that the client costs as little
 * CPU as possible while the server is measured (undici's FormData encoder is several times slower).
 */
export async function upload(baseUrl, token, files) {
  const boundary = `----pixa-bench-${randomBytes(12).toString('hex')}`;
  const parts = [];
  for (const file of files) {
    parts.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.name}"\r\n` +
          'Content-Type: application/octet-stream\r\n\r\n',
      ),
      file.data,
      Buffer.from('\r\n'),
    );
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  const response = await request(new URL('/api/v1/images', baseUrl), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': `multipart/form-data; boundary=${boundary}` },
    body: Buffer.concat(parts),
    dispatcher: agent,
  });
  const body = await response.body.json();
  if (response.statusCode !== 201 && response.statusCode !== 200) {
    throw new Error(`upload answered ${response.statusCode}: ${JSON.stringify(body).slice(0, 300)}`);
  }
  return body.images;
}

/** GETs `path` and reads the whole body; returns milliseconds. */
export async function timedGet(baseUrl, path, headers = {}) {
  const start = performance.now();
  const response = await request(new URL(path, baseUrl), { headers, dispatcher: agent });
  await response.body.arrayBuffer();
  const ms = performance.now() - start;
  if (response.statusCode >= 400) throw new Error(`GET ${path} answered ${response.statusCode}`);
  return ms;
}

/** Runs `fn` sequentially, `warmup` times untimed, then `count` times; returns each run's milliseconds. */
export async function timeLoop(fn, count, warmup = Math.min(20, Math.ceil(count / 5))) {
  for (let i = 0; i < warmup; i++) await fn();
  const times = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  return times;
}

export async function closeClient() {
  await agent.close();
}
