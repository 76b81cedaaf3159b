import { dictionary } from '@zxcvbn-ts/language-common';

import { PASSWORD_MAX, PASSWORD_MIN, passwordLength, USERNAME_PATTERN } from '../../api/credential-rules.js';
import { AppError } from '../../lib/app-error.js';

export { USERNAME_PATTERN };

/** The 1,000 most common passwords, from zxcvbn's ranked list (most common first). */
const COMMON_PASSWORDS: ReadonlySet<string> = new Set(
  (dictionary.passwords as string[]).slice(0, 1000).map((p) => p.toLowerCase()),
);

export function checkUsername(username: string): void {
  if (!USERNAME_PATTERN.test(username)) {
    throw new AppError(
      'invalid_username',
      400,
      'Username must be 3 to 32 characters: letters, digits, dots, underscores or hyphens.',
    );
  }
}

export function checkNewPassword(password: string, username?: string): void {
  const length = passwordLength(password);
  if (length < PASSWORD_MIN || length > PASSWORD_MAX) {
    throw new AppError('invalid_password', 400, `Password must be ${PASSWORD_MIN} to ${PASSWORD_MAX} characters long.`);
  }
  const lowered = password.toLowerCase();
  if (COMMON_PASSWORDS.has(lowered) || (username !== undefined && lowered === username.toLowerCase())) {
    throw new AppError(
      'common_password',
      400,
      'This password is too common and easy to guess. Choose a longer phrase of your own.',
    );
  }
}

/** The unique key of a username: lower case, so "Ana" and "ana" are one account. */
export const usernameKey = (username: string): string => username.toLowerCase();
