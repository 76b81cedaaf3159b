/* global self */
/*
 * Pixa's download worker. A ZIP of chosen originals is asked for with POST /api/v1/images/archive and the
 * session's Bearer token, which a plain link or form cannot send. The page hands the request to this
 * worker and then opens /download/archive/<id> in a hidden frame; the worker answers that navigation
 * with the API's streamed answer, so the browser saves the ZIP to disk as it arrives instead of the page
 * holding it in memory. It touches no other request.
 */

/** Archives asked for and not opened yet: id → { token, ids, port }. Each is used once. */
const pending = new Map();
const PREFIX = '/download/archive/';

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('message', (event) => {
  const data = event.data;
  const port = event.ports[0];
  if (!data || data.type !== 'archive' || !port || !Array.isArray(data.ids)) return;
  const id = crypto.randomUUID();
  pending.set(id, { token: typeof data.token === 'string' ? data.token : '', ids: data.ids, port });
  // An archive not opened within a minute is forgotten, and its token with it.
  setTimeout(() => pending.delete(id), 60_000);
  port.postMessage({ id });
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (url.origin !== self.location.origin || !url.pathname.startsWith(PREFIX)) return;
  const id = url.pathname.slice(PREFIX.length);
  const job = pending.get(id);
  pending.delete(id);
  event.respondWith(job ? archive(job) : new Response('This download has expired.', { status: 410 }));
});

async function archive({ token, ids, port }) {
  let answer;
  try {
    answer = await fetch('/api/v1/images/archive', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/zip, application/json',
        authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({ ids }),
    });
  } catch {
    port.postMessage({ status: 0, body: '' });
    return new Response('', { status: 502 });
  }
  if (!answer.ok) {
    // The page tells the person why (the day's transfer used up, a photo gone); the frame shows nothing.
    port.postMessage({ status: answer.status, body: await answer.text().catch(() => '') });
    return new Response('', { status: answer.status });
  }
  port.postMessage({ status: answer.status });
  const headers = new Headers();
  for (const name of ['content-type', 'content-disposition', 'content-length']) {
    const value = answer.headers.get(name);
    if (value) headers.set(name, value);
  }
  return new Response(answer.body, { status: 200, headers });
}
