import { Type, type Static } from 'typebox';

export const UserSchema = Type.Object({
  id: Type.String(),
  username: Type.String(),
  role: Type.Union([Type.Literal('user'), Type.Literal('admin')]),
  createdAt: Type.String({ format: 'date-time' }),
});
export type User = Static<typeof UserSchema>;

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
