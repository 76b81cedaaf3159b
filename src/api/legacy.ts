import { Type, type Static } from 'typebox';

/** The original Pixa's page data: usage in MB and a link to every image's preview. */
export const LegacyUserDataSchema = Type.Object({
  username: Type.String(),
  storage_usage: Type.Number({ description: 'MB stored' }),
  bandwidth_usage: Type.Number({ description: 'MB transferred today (UTC)' }),
  images_links: Type.Array(Type.String()),
});
export type LegacyUserData = Static<typeof LegacyUserDataSchema>;

export const LegacyCredentialsSchema = Type.Object({
  username: Type.String({ maxLength: 64 }),
  password: Type.String({ maxLength: 1024 }),
});

export const LegacyTokenSchema = Type.Object({ token: Type.String() });

export const LegacyDeleteSchema = Type.Object({ link: Type.String({ maxLength: 2048 }) });
