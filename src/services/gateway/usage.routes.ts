import type { FastifyInstance } from 'fastify';

import { errors } from '../../api/errors.js';
import { UsageSchema } from '../../api/usage.js';
import { principalOf, requireUser } from '../../http/auth-hook.js';
import type { GatewayDeps } from './gateway-deps.js';

export async function usageRoutes(app: FastifyInstance, { services }: GatewayDeps): Promise<void> {
  app.get(
    '/api/v1/usage',
    {
      preHandler: requireUser(services().auth),
      schema: {
        tags: ['usage'],
        summary: 'Storage used of the quota, and today’s (UTC) transfer of the daily quota, in bytes',
        response: { 200: UsageSchema, ...errors(401) },
      },
    },
    async (request) => {
      const { userId } = principalOf(request);
      // The two monitors answer independently, so ask both at once.
      const { usage } = services(request);
      const [storage, transfer] = await Promise.all([usage.storage(userId), usage.transfer(userId)]);
      return { storage, transfer };
    },
  );
}
