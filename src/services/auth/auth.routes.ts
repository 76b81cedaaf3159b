import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';

import { bearerToken } from '../../http/auth-hook.js';
import { unauthorized } from '../../lib/app-error.js';
import type { Principal } from '../../modules/auth/auth.service.js';
import type { AuthClient } from '../../clients/clients.js';

const Credentials = {
  username: Type.String({ minLength: 1, maxLength: 64 }),
  password: Type.String({ minLength: 1, maxLength: 1024 }),
};
const UserParams = Type.Object({ userId: Type.String({ maxLength: 64 }) });
/** The client's device cookie, as the gateway read it. */
const Device = Type.Optional(Type.String({ maxLength: 200 }));

/**
 * The auth service's internal API: accounts, passwords, sessions and tokens. Only the gateway calls
 * it (with the internal token); the public validation and messages stay in the gateway's routes.
 */
export async function authServiceRoutes(app: FastifyInstance, { auth }: { auth: AuthClient }): Promise<void> {
  app.post(
    '/internal/auth/register',
    {
      schema: {
        body: Type.Object({
          ...Credentials,
          role: Type.Optional(Type.Union([Type.Literal('user'), Type.Literal('admin')])),
          address: Type.Optional(Type.String({ maxLength: 100 })),
        }),
      },
    },
    async (request, reply) => {
      const { username, password, role, address } = request.body as {
        username: string;
        password: string;
        role?: 'user' | 'admin';
        address?: string;
      };
      return reply.status(201).send(await auth.register(username, password, { role, address }));
    },
  );

  app.post(
    '/internal/auth/login',
    { schema: { body: Type.Object({ ...Credentials, address: Type.String({ maxLength: 100 }), device: Device }) } },
    async (request) => {
      const { username, password, address, device } = request.body as {
        username: string;
        password: string;
        address: string;
        device?: string;
      };
      return auth.login(username, password, address, device);
    },
  );

  app.post(
    '/internal/auth/logout',
    { schema: { body: Type.Object({ sessionId: Type.String({ maxLength: 64 }) }) } },
    async (request, reply) => {
      await auth.logout((request.body as { sessionId: string }).sessionId);
      return reply.status(204).send();
    },
  );

  app.get('/internal/auth/principal', async (request) => {
    const token = bearerToken(request);
    if (!token) throw unauthorized();
    return auth.authenticate(token);
  });

  app.post(
    '/internal/auth/password',
    {
      schema: {
        body: Type.Object({
          principal: Type.Object({
            userId: Type.String(),
            sessionId: Type.String(),
            username: Type.String(),
            role: Type.Union([Type.Literal('user'), Type.Literal('admin')]),
          }),
          currentPassword: Type.String({ maxLength: 1024 }),
          newPassword: Type.String({ maxLength: 1024 }),
          address: Type.Optional(Type.String({ maxLength: 100 })),
          device: Device,
        }),
      },
    },
    async (request) => {
      const { principal, currentPassword, newPassword, address, device } = request.body as {
        principal: Principal;
        currentPassword: string;
        newPassword: string;
        address?: string;
        device?: string;
      };
      return auth.changePassword(principal, currentPassword, newPassword, address, device);
    },
  );

  app.get('/internal/auth/users/:userId', { schema: { params: UserParams } }, async (request) =>
    auth.getUser((request.params as { userId: string }).userId),
  );

  app.delete('/internal/auth/users/:userId', { schema: { params: UserParams } }, async (request, reply) => {
    await auth.deleteUser((request.params as { userId: string }).userId);
    return reply.status(204).send();
  });
}
