import type { FastifyInstance } from 'fastify';

import { internalRoutes } from '../../api/internal.js';
import { internalRoute } from '../../http/internal-route.js';
import type { UsageService } from '../../modules/usage/usage.service.js';

/** The usage monitor's internal API: an account's transfer today (UTC), and its daily quota. */
export async function usageMonitorRoutes(app: FastifyInstance, { usage }: { usage: UsageService }): Promise<void> {
  internalRoute(app, internalRoutes.transferUsage, async (request) => usage.transfer(request.params.userId));
}
