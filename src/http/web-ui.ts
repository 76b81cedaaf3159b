import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** Options for {@link registerWebUi}. */
export interface WebUiOptions {
  /** Directory holding the built front end (`web/dist`): index.html plus hashed files under assets/. */
  distDir: string;
}

const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "img-src 'self' blob: data:",
  // Svelte transitions write inline style attributes; scripts stay strictly same-origin.
  "style-src 'self' 'unsafe-inline'",
  "connect-src 'self'",
  "object-src 'none'",
  "frame-ancestors 'none'",
  "base-uri 'self'",
  "form-action 'self'",
].join('; ');

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';

/**
 * Serves the web front end at `/` on the gateway's port: hashed assets cached for a year, index.html
 * revalidated on every load, and index.html for any other GET outside `/api` so that reloading a
 * client-side path still opens the app. When the front end is not built, `/` answers with a JSON hint.
 */
export async function registerWebUi(app: FastifyInstance, opts: WebUiOptions): Promise<void> {
  const indexFile = path.join(opts.distDir, 'index.html');
  if (!existsSync(indexFile)) {
    app.log.warn({ distDir: opts.distDir }, 'web UI is not built; run `npm run build:web` to serve it at /');
    app.get('/', { schema: { hide: true } }, async (_request, reply) =>
      reply.code(404).send({
        error: { code: 'web_ui_not_built', message: 'The web UI is not built. Run `npm run build:web`.' },
      }),
    );
    return;
  }

  const root = path.resolve(opts.distDir);
  await app.register(async (ui) => {
    ui.addHook('onSend', async (_request, reply, payload) => {
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
      return payload;
    });

    // Files are looked up per request rather than registered as routes at start-up, so a rebuilt
    // front end is served without a restart.
    await ui.register(fastifyStatic, { root, serve: false, cacheControl: false, dotfiles: 'ignore' });

    const sendIndex = (reply: FastifyReply) =>
      reply.header('cache-control', REVALIDATE).type('text/html; charset=utf-8').sendFile('index.html');

    ui.get('/', { schema: { hide: true } }, async (_request, reply) => sendIndex(reply));
    // A share link's page: the app shows the link's photos. Its URL is the key, so no search engine
    // should keep it (and no-referrer above keeps it out of other sites' logs).
    ui.get('/s/:key', { schema: { hide: true } }, async (_request, reply) =>
      sendIndex(reply.header('x-robots-tag', 'noindex, nofollow')),
    );
    ui.get('/*', { schema: { hide: true } }, async (request, reply) => {
      const urlPath = request.url.split('?', 1)[0] ?? '/';
      if (urlPath === '/api' || urlPath.startsWith('/api/')) return reply.callNotFound();
      const file = await builtFile(root, urlPath);
      if (file) return reply.header('cache-control', isHashedAsset(file) ? IMMUTABLE : REVALIDATE).sendFile(file);
      // A missing build file gets a real 404, never an HTML page in its place.
      if (urlPath.startsWith('/assets/')) return reply.callNotFound();
      return sendIndex(reply);
    });
  });
}

/** The file under `root` that a URL path names, relative to root, or null (also for paths that try to leave root). */
async function builtFile(root: string, urlPath: string): Promise<string | null> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.split('/').some((part) => part.startsWith('.'))) return null;
  const absolute = path.resolve(root, `.${decoded}`);
  if (!absolute.startsWith(root + path.sep)) return null;
  try {
    return (await stat(absolute)).isFile() ? path.relative(root, absolute) : null;
  } catch {
    return null;
  }
}

function isHashedAsset(file: string): boolean {
  return file.startsWith(`assets${path.sep}`);
}
