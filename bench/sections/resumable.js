// 7. Resumable uploads: one 200 MB file sent with tus (8 MB PATCHes, each with Upload-Checksum) and
// as one multipart request, to the same server: wall time and the server's peak RSS. Then a tus
// upload whose connection is cut at 50% of the file, resumed from the offset HEAD gives: the bytes
// sent again must be at most one chunk. The file is random bytes, refused as not an image (415) on
// both paths after every byte was received and staged, so the figures are those of the transport.
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';

import { register } from '../lib/client.js';
import { procAvailable, watchMemory } from '../lib/memory.js';
import { sleep } from '../lib/pixa-process.js';
import { mb, num, row } from '../lib/stats.js';

const MB = 1024 * 1024;
const SIZE = 200 * MB;
const CHUNK = 8 * MB;
const ENV = {
  PIXA_MAX_UPLOAD_MB: '250',
  PIXA_STORAGE_QUOTA_MB: '0',
  PIXA_DAILY_TRANSFER_MB: '0',
  PIXA_STAGING_MB: '0',
};

const tusHeaders = (token) => ({ 'tus-resumable': '1.0.0', authorization: `Bearer ${token}` });

async function create(url, token, length) {
  const response = await fetch(`${url}/api/v1/uploads`, {
    method: 'POST',
    headers: { ...tusHeaders(token), 'upload-length': String(length), 'upload-metadata': 'filename YmlnLmJpbg==' },
  });
  if (response.status !== 201) throw new Error(`creating an upload answered ${response.status}`);
  return response.headers.get('location');
}

async function patch(url, token, location, offset, bytes) {
  const response = await fetch(url + location, {
    method: 'PATCH',
    headers: {
      ...tusHeaders(token),
      'upload-offset': String(offset),
      'content-type': 'application/offset+octet-stream',
      'upload-checksum': `sha256 ${createHash('sha256').update(bytes).digest('base64')}`,
    },
    body: bytes,
  });
  await response.arrayBuffer();
  // The cut request may still be storing what it received: ask again where the upload stands.
  if (response.status === 409) return headOffset(url, token, location);
  if (response.status !== 204) throw new Error(`PATCH at ${offset} answered ${response.status}`);
  return Number(response.headers.get('upload-offset'));
}

async function headOffset(url, token, location) {
  await sleep(100);
  const head = await fetch(url + location, { method: 'HEAD', headers: tusHeaders(token) });
  return Number(head.headers.get('upload-offset'));
}

/** Sends `data` from `offset` in CHUNK PATCHes; answers the bytes sent. */
async function sendFrom(url, token, location, data, offset) {
  let sent = 0;
  while (offset < data.length) {
    const chunk = data.subarray(offset, Math.min(data.length, offset + CHUNK));
    sent += chunk.length;
    offset = await patch(url, token, location, offset, chunk);
  }
  return sent;
}

/** Sends a PATCH announcing the whole rest, writes `bytes` of it, then cuts the connection. */
function cutPatch(url, token, location, offset, data, bytes) {
  return new Promise((resolve) => {
    const req = httpRequest(new URL(location, url), {
      method: 'PATCH',
      headers: {
        ...tusHeaders(token),
        'upload-offset': String(offset),
        'content-type': 'application/offset+octet-stream',
        'content-length': String(data.length - offset),
      },
    });
    req.on('error', () => resolve());
    req.write(data.subarray(offset, offset + bytes), () => setTimeout(() => req.destroy(), 300));
  });
}

export async function resumable(ctx) {
  if (!procAvailable()) {
    ctx.skip('resumable', 'no /proc/<pid>/status here (Linux only)');
    return;
  }
  const data = randomBytes(SIZE);
  const server = await ctx.startPixa('resumable', { env: ENV });
  const figures = {};
  try {
    const { token } = await register(server.url);
    await sleep(500);

    let watch = watchMemory(server.pid);
    let started = performance.now();
    const form = new FormData();
    form.append('file', new Blob([data]), 'big.bin');
    const multipart = await fetch(`${server.url}/api/v1/images`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: form,
    });
    await multipart.arrayBuffer();
    figures.multipartMs = performance.now() - started;
    figures.multipartRss = watch.stop().peak;
    if (multipart.status !== 415) throw new Error(`the multipart upload answered ${multipart.status}, not 415`);
    await sleep(1000);

    watch = watchMemory(server.pid);
    started = performance.now();
    const location = await create(server.url, token, SIZE);
    await sendFrom(server.url, token, location, data, 0);
    figures.tusMs = performance.now() - started;
    figures.tusRss = watch.stop().peak;
    await sleep(1000);

    // Cut at 50%: the whole chunks before it, then half a chunk of a PATCH that announced the rest.
    const resumedAt = await create(server.url, token, SIZE);
    const half = SIZE / 2;
    let sent = await sendFrom(server.url, token, resumedAt, data.subarray(0, half - CHUNK / 2), 0);
    await cutPatch(server.url, token, resumedAt, half - CHUNK / 2, data, CHUNK);
    sent += CHUNK;
    // As a client does after a failure: ask where the upload stands until the cut request has stored
    // what it received (a few tries), then send from there.
    let offset = await headOffset(server.url, token, resumedAt);
    for (let tries = 0; tries < 30 && offset <= half - CHUNK / 2; tries++) {
      offset = await headOffset(server.url, token, resumedAt);
    }
    sent += await sendFrom(server.url, token, resumedAt, data, offset);
    figures.resentBytes = sent - SIZE;
    figures.cutOffset = offset;
  } finally {
    await ctx.stop(server);
  }
  ctx.log(
    `  200 MB: multipart ${num(figures.multipartMs)} ms, peak RSS ${mb(figures.multipartRss)}; ` +
      `tus ${num(figures.tusMs)} ms, peak RSS ${mb(figures.tusRss)}; cut at 50%: server kept ${num(figures.cutOffset)} ` +
      `bytes, ${num(figures.resentBytes)} sent again`,
  );
  ctx.results.resumable = figures;
  ctx.rows.push(
    row(
      'resumable',
      '200 MB upload, tus (8 MB chunks) vs multipart: time',
      `${num(figures.tusMs)} ms`,
      `${num(figures.multipartMs)} ms`,
      `${num(figures.tusMs / figures.multipartMs)}×`,
    ),
    row(
      'resumable',
      '200 MB upload, tus vs multipart: server peak RSS',
      mb(figures.tusRss),
      mb(figures.multipartRss),
      `${num(figures.tusRss / figures.multipartRss)}×`,
    ),
    row(
      'resumable',
      'cut at 50%, resumed: bytes sent again',
      mb(figures.resentBytes),
      `≤ ${mb(CHUNK)}`,
      '',
      '≤ one chunk',
      figures.resentBytes <= CHUNK,
    ),
  );
}
