import type { FastifyInstance } from 'fastify';

import { CredentialsSchema, MeSchema, PasswordChangeSchema, SignInSchema } from '../../api/auth.js';
import { errors } from '../../api/errors.js';
import { principalOf, requireUser } from '../../http/auth-hook.js';
import { typed } from '../../http/typed.js';
import { AppError } from '../../lib/app-error.js';
import { videoToolsAvailable } from '../../video/ffmpeg-runner.js';
import { deviceCookieOf, withDeviceCookie } from './device-cookie.js';
import type { GatewayDeps } from './gateway-deps.js';

export async function authRoutes(fastify: FastifyInstance, { services, config }: GatewayDeps): Promise<void> {
  const app = typed(fastify);
  const authenticated = { preHandler: requireUser(services().auth) };

  app.post(
    '/api/v1/auth/register',
    {
      schema: {
        tags: ['auth'],
        summary: 'Create an account and sign in',
        body: CredentialsSchema,
        response: { 201: SignInSchema, ...errors(400, 403, 409, 429) },
      },
    },
    async (request, reply) => {
      if (config.signup === 'closed') {
        throw new AppError(
          'signup_closed',
          403,
          'Sign-up is closed on this server. Ask the administrator for an account.',
        );
      }
      const { username, password } = request.body;
      const signIn = await services(request).auth.register(username, password, { address: request.ip });
      return reply.status(201).send(withDeviceCookie(request, reply, signIn));
    },
  );

  app.post(
    '/api/v1/auth/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Sign in',
        body: CredentialsSchema,
        response: { 200: SignInSchema, ...errors(400, 401, 429) },
      },
    },
    async (request, reply) => {
      const { username, password } = request.body;
      const signIn = await services(request).auth.login(username, password, request.ip, deviceCookieOf(request));
      return withDeviceCookie(request, reply, signIn);
    },
  );

  app.post(
    '/api/v1/auth/logout',
    {
      ...authenticated,
      schema: { tags: ['auth'], summary: 'Sign out (ends this token at once)', response: errors(401) },
    },
    async (request, reply) => {
      await services(request).auth.logout(principalOf(request).sessionId);
      return reply.status(204).send();
    },
  );

  app.post(
    '/api/v1/auth/password',
    {
      ...authenticated,
      schema: {
        tags: ['auth'],
        summary: 'Change the password; every session ends and a new token is returned',
        body: PasswordChangeSchema,
        response: { 200: SignInSchema, ...errors(400, 401) },
      },
    },
    async (request) => {
      const { currentPassword, newPassword } = request.body;
      const device = deviceCookieOf(request);
      return services(request).auth.changePassword(
        principalOf(request),
        currentPassword,
        newPassword,
        request.ip,
        device,
      );
    },
  );

  app.get(
    '/api/v1/me',
    {
      ...authenticated,
      schema: { tags: ['auth'], summary: 'The signed-in account', response: { 200: MeSchema, ...errors(401) } },
    },
    async (request) => ({
      ...(await services(request).auth.getUser(principalOf(request).userId)),
      videos: await videoToolsAvailable(),
    }),
  );
}
