import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';

import type { UsageService } from '../../modules/usage/usage.service.js';

/** The usage monitor's internal API: an account's transfer today (UTC), and its daily quota. */
export async function usageMonitorRoutes(app: FastifyInstance, { usage }: { usage: UsageService }): Promise<void> {
  app.get(
    '/internal/users/:userId/transfer-usage',
    { schema: { params: Type.Object({ userId: Type.String({ maxLength: 64 }) }) } },
    async (request) => usage.transfer((request.params as { userId: string }).userId),
  );
}
