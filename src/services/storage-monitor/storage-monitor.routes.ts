import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';

import type { UsageService } from '../../modules/usage/usage.service.js';

/** The storage monitor's internal API: bytes an account stores, and its storage quota. */
export async function storageMonitorRoutes(app: FastifyInstance, { usage }: { usage: UsageService }): Promise<void> {
  app.get(
    '/internal/users/:userId/storage-usage',
    { schema: { params: Type.Object({ userId: Type.String({ maxLength: 64 }) }) } },
    async (request) => usage.storage((request.params as { userId: string }).userId),
  );
}
