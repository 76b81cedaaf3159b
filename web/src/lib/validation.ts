/** The same rules the server applies, checked as people type so they learn before they submit. */

export const USERNAME_PATTERN = /^[A-Za-z0-9._-]+$/;

export function usernameProblem(username: string): string | null {
  if (username.length === 0) return 'Enter a username.';
  if (username.length < 3) return 'Usernames are at least 3 characters.';
  if (username.length > 32) return 'Usernames are at most 32 characters.';
  if (!USERNAME_PATTERN.test(username)) return 'Use only letters, digits, dots, underscores and hyphens.';
  return null;
}

export function passwordProblem(password: string): string | null {
  if (password.length === 0) return 'Enter a password.';
  if (password.length < 8) return 'Passwords are at least 8 characters.';
  if (password.length > 128) return 'Passwords are at most 128 characters.';
  return null;
}

/** Whole minutes to wait for a Retry-After in seconds, never 0. */
export function retryMinutes(seconds: number): number {
  return Math.max(1, Math.ceil(seconds / 60));
}
