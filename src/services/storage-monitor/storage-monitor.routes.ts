import type { FastifyInstance } from 'fastify';

import { internalRoutes } from '../../api/internal.js';
import { internalRoute } from '../../http/internal-route.js';
import type { UsageService } from '../../modules/usage/usage.service.js';

/** The storage monitor's internal API: bytes an account stores, and its storage quota. */
export async function storageMonitorRoutes(app: FastifyInstance, { usage }: { usage: UsageService }): Promise<void> {
  internalRoute(app, internalRoutes.storageUsage, async (request) => usage.storage(request.params.userId));
}
