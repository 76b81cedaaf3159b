import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

import { withAccountFanout } from '../clients/account-fanout.js';
import type { GatewayClients } from '../clients/clients.js';
import type { Config } from '../config/config.js';
import { configureVideoTools } from '../video/ffmpeg-runner.js';
import { videoToolsOf } from './core.js';
import type { Metrics } from '../http/metrics.js';
import { createServiceApp } from '../http/service-app.js';
import { registerWebUi } from '../http/web-ui.js';
import type { MediaUrlSigner } from '../modules/images/media-url.js';
import { albumRoutes } from '../services/gateway/album.routes.js';
import { authRoutes } from '../services/gateway/auth.routes.js';
import type { GatewayDeps, GatewayServices } from '../services/gateway/gateway-deps.js';
import { imageRoutes } from '../services/gateway/image.routes.js';
import { legacyRoutes } from '../services/gateway/legacy.routes.js';
import { shareRoutes } from '../services/gateway/share.routes.js';
import { trashRoutes } from '../services/gateway/trash.routes.js';
import { uploadRoutes } from '../services/gateway/upload.routes.js';
import { usageRoutes } from '../services/gateway/usage.routes.js';
import { registerUploads } from './uploads.js';

/** The package root: `web/dist` lives beside `src/` and `dist/` (this file is in `src/app/` or `dist/app/`). */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface GatewayAppDeps {
  logger: Logger;
  metrics: Metrics;
  clients: GatewayClients;
  mediaUrls: MediaUrlSigner;
  /** The clients call the other services over HTTP (pod mode), not in process: calls carry the request's id. */
  remoteClients: boolean;
}

/** The public gateway: web UI, public API and the original Pixa's endpoints, over its clients. */
export async function createGatewayApp(config: Readonly<Config>, deps: GatewayAppDeps): Promise<FastifyInstance> {
  configureVideoTools(videoToolsOf(config));
  const { logger, metrics, clients, mediaUrls } = deps;
  const app = await createServiceApp({
    service: 'gateway',
    config,
    logger,
    metrics,
    readiness: clients.readiness,
    openapi: true,
  });
  await registerUploads(app, config);
  const servicesFor = (requestId?: string): GatewayServices => {
    const { auth, storage, usage, shares, uploads } = clients.forRequest(requestId);
    return { auth: withAccountFanout(auth, storage, logger), images: storage, usage, shares, uploads };
  };
  // In process the services are the same for every request; over HTTP, made once per request that asks.
  const shared = deps.remoteClients ? undefined : servicesFor();
  const perRequest = new WeakMap<object, GatewayServices>();
  const services = (request?: { id: string }): GatewayServices => {
    if (shared) return shared;
    if (!request) return servicesFor();
    let scoped = perRequest.get(request);
    if (!scoped) perRequest.set(request, (scoped = servicesFor(request.id)));
    return scoped;
  };
  const gateway: GatewayDeps = { config, mediaUrls, services };
  await app.register(authRoutes, gateway);
  await app.register(imageRoutes, gateway);
  await app.register(albumRoutes, gateway);
  await app.register(trashRoutes, gateway);
  await app.register(usageRoutes, gateway);
  await app.register(uploadRoutes, gateway);
  await app.register(shareRoutes, gateway);
  await app.register(legacyRoutes, gateway);
  await registerWebUi(app, { distDir: path.join(ROOT, 'web', 'dist') });
  return app;
}
