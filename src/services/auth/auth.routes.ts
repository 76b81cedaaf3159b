import type { FastifyInstance } from 'fastify';

import { internalRoutes as routes } from '../../api/internal.js';
import { internalRoute } from '../../http/internal-route.js';
import type { AuthClient } from '../../clients/clients.js';

/**
 * The auth service's internal API: accounts, passwords, sessions and tokens. Only the gateway calls
 * it (with the internal token); the public validation and messages stay in the gateway's routes.
 * The device cookie's value travels in the body like the client's address: the gateway read it.
 */
export async function authServiceRoutes(app: FastifyInstance, { auth }: { auth: AuthClient }): Promise<void> {
  internalRoute(app, routes.register, async (request, reply) => {
    const { username, password, role, address } = request.body;
    return reply.status(201).send(await auth.register(username, password, { role, address }));
  });

  internalRoute(app, routes.login, async (request) => {
    const { username, password, address, device } = request.body;
    return auth.login(username, password, address, device);
  });

  internalRoute(app, routes.logout, async (request, reply) => {
    await auth.logout(request.body.sessionId);
    return reply.status(204).send();
  });

  internalRoute(app, routes.changePassword, async (request) => {
    const { principal, currentPassword, newPassword, address, device } = request.body;
    return auth.changePassword(principal, currentPassword, newPassword, address, device);
  });

  internalRoute(app, routes.deleteUser, async (request, reply) => {
    await auth.deleteUser(request.params.userId);
    return reply.status(204).send();
  });
}
