/**
 * The rules a username and a new password must meet, shared by the server (which enforces them) and
 * the web UI (which checks them as people type). Plain TypeScript with no imports, so the web bundle
 * takes nothing else from the server.
 */

export const USERNAME_MIN = 3;
export const USERNAME_MAX = 32;
export const USERNAME_PATTERN = /^[A-Za-z0-9._-]{3,32}$/;
const USERNAME_CHARACTERS = /^[A-Za-z0-9._-]+$/;

export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;

/** A password's length in characters as people count them (code points, not UTF-16 units). */
export const passwordLength = (password: string): number => [...password].length;

/** What is wrong with a username, in words for the person typing it, or null when it is fine. */
export function usernameProblem(username: string): string | null {
  if (username.length === 0) return 'Enter a username.';
  if (username.length < USERNAME_MIN) return `Usernames are at least ${USERNAME_MIN} characters.`;
  if (username.length > USERNAME_MAX) return `Usernames are at most ${USERNAME_MAX} characters.`;
  if (!USERNAME_CHARACTERS.test(username)) return 'Use only letters, digits, dots, underscores and hyphens.';
  return null;
}

/** What is wrong with the length of a new password, or null when it is fine. */
export function passwordProblem(password: string): string | null {
  const length = passwordLength(password);
  if (length === 0) return 'Enter a password.';
  if (length < PASSWORD_MIN) return `Passwords are at least ${PASSWORD_MIN} characters.`;
  if (length > PASSWORD_MAX) return `Passwords are at most ${PASSWORD_MAX} characters.`;
  return null;
}
