import type { FastifyInstance, FastifyRequest } from 'fastify';

import { errors } from '../../api/errors.js';
import type { Image } from '../../api/images.js';
import {
  LegacyCredentialsSchema,
  LegacyDeleteSchema,
  LegacyTokenSchema,
  LegacyUserDataSchema as UserData,
  type LegacyUserData,
} from '../../api/legacy.js';
import { principalOf, requireUser } from '../../http/auth-hook.js';
import { typed } from '../../http/typed.js';
import { fileParts, uploadLimits } from '../../http/upload-parts.js';
import { AppError } from '../../lib/app-error.js';
import { isImageId, VARIANTS, type Variant } from '../../modules/images/media-url.js';
import type { GatewayDeps } from './gateway-deps.js';

const MB = 1024 * 1024;
/** The original listed a whole gallery at once; past this many photos, the newest are listed. */
const MAX_LINKS = 10_000;

const LEGACY = { tags: ['original Pixa API'] };

/**
 * The original Pixa's four gateway endpoints, so its web page and scripts keep working. They are thin
 * adapters over the same services as /api/v1: same validation, quotas and security.
 */
export async function legacyRoutes(fastify: FastifyInstance, deps: GatewayDeps): Promise<void> {
  const app = typed(fastify);
  const { services } = deps;
  const authenticated = requireUser(services().auth);

  /** The original's page data, fetched concurrently: image links, storage and transfer usage. */
  async function userData(request: FastifyRequest): Promise<LegacyUserData> {
    const { userId, username } = principalOf(request);
    const origin = `${request.protocol}://${request.host}`;
    const { usage, images } = services(request);
    const [storage, transfer, links] = await Promise.all([
      usage.storage(userId),
      usage.transfer(userId),
      (async () => {
        const all: Image[] = [];
        let cursor: string | undefined;
        do {
          const page = await images.list(userId, 200, cursor);
          all.push(...page.items);
          cursor = page.nextCursor ?? undefined;
        } while (cursor && all.length < MAX_LINKS);
        return all.map((image) => origin + (image.kind === 'video' ? image.urls.original : image.urls.preview));
      })(),
    ]);
    return {
      username,
      storage_usage: round(storage.usedBytes / MB),
      bandwidth_usage: round(transfer.usedBytes / MB),
      images_links: links,
    };
  }

  app.post(
    '/auth_user',
    {
      schema: {
        ...LEGACY,
        summary: 'Sign in, or create the account if the username is new (as the original did)',
        body: LegacyCredentialsSchema,
        response: { 200: LegacyTokenSchema, ...errors(400, 401, 403, 429) },
      },
    },
    async (request) => {
      const body = request.body;
      const username = body.username.trim();
      const password = body.password.trim();
      if (username.length < 3 || password.length < 3) {
        throw new AppError('invalid_input', 400, 'Inputs cannot be smaller than 3 characters.');
      }
      try {
        return { token: (await services(request).auth.login(username, body.password, request.ip)).token };
      } catch (error) {
        if (!(error instanceof AppError) || error.code !== 'invalid_credentials') throw error;
        if (deps.config.signup === 'closed') throw error;
        try {
          return {
            token: (await services(request).auth.register(username, body.password, { address: request.ip })).token,
          };
        } catch (registerError) {
          // The name exists, so the password was simply wrong.
          if (registerError instanceof AppError && registerError.code === 'username_taken') throw error;
          throw registerError;
        }
      }
    },
  );

  app.post(
    '/load_user_data',
    {
      preHandler: authenticated,
      schema: { ...LEGACY, summary: 'Usage and image links', response: { 200: UserData, ...errors(401) } },
    },
    async (request) => userData(request),
  );

  app.post(
    '/upload_image',
    {
      preHandler: authenticated,
      schema: {
        ...LEGACY,
        summary: 'Upload one image (multipart field "file")',
        consumes: ['multipart/form-data'],
        response: { 200: UserData, ...errors(400, 401, 413, 415, 429) },
      },
    },
    async (request) => {
      if (!request.isMultipart())
        throw new AppError('expected_multipart', 415, 'Send the image as multipart/form-data in the field "file".');
      const { userId } = principalOf(request);
      const { images } = services(request);
      await images.assertCanUpload(userId);
      await images.upload(userId, fileParts(request, uploadLimits(deps.config)));
      return userData(request);
    },
  );

  app.post(
    '/delete_image',
    {
      preHandler: authenticated,
      schema: {
        ...LEGACY,
        summary: 'Delete the image a link from load_user_data points to',
        body: LegacyDeleteSchema,
        response: { 200: UserData, ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const id = imageIdOf(request.body.link);
      // remove() only finds the caller's own images: another account's link is "not found".
      await services(request).images.remove(principalOf(request).userId, id);
      return userData(request);
    },
  );
}

function imageIdOf(link: string): string {
  let path: string;
  try {
    path = new URL(link, 'http://pixa.invalid').pathname;
  } catch {
    path = '';
  }
  const [, id = '', variant = ''] = /^\/api\/v1\/images\/([^/]+)\/([^/]+)$/.exec(path) ?? [];
  if (!isImageId(id) || !VARIANTS.includes(variant as Variant)) {
    throw new AppError('invalid_link', 400, 'This is not a Pixa image link.');
  }
  return id;
}

const round = (value: number): number => Math.round(value * 100) / 100;
