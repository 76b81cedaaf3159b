import { Type, type Static } from 'typebox';

export const UserSchema = Type.Object({
  id: Type.String(),
  username: Type.String(),
  role: Type.Union([Type.Literal('user'), Type.Literal('admin')]),
  createdAt: Type.String({ format: 'date-time' }),
});
export type User = Static<typeof UserSchema>;

/** The signed-in account, with what this server can take from it. */
export const MeSchema = Type.Intersect([
  UserSchema,
  Type.Object({
    videos: Type.Boolean({ description: 'False when this server cannot take videos (ffmpeg is not installed).' }),
  }),
]);
export type Me = Static<typeof MeSchema>;

export const SignInSchema = Type.Object({
  token: Type.String(),
  expiresAt: Type.String({ format: 'date-time' }),
  user: UserSchema,
});
export type SignIn = Static<typeof SignInSchema>;

/** Sign-up and sign-in. The lengths are generous bounds; the account rules are in credential-rules.ts. */
export const CredentialsSchema = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 64 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);
export type Credentials = Static<typeof CredentialsSchema>;

export const PasswordChangeSchema = Type.Object(
  {
    currentPassword: Type.String({ minLength: 1, maxLength: 1024 }),
    newPassword: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);
export type PasswordChange = Static<typeof PasswordChangeSchema>;
