/**
 * The one error type the API answers with. `code` is a stable snake_case identifier for clients,
 * `message` a sentence a person can act on; `headers` lets an error carry e.g. Retry-After.
 */
export class AppError extends Error {
  constructor(
    readonly code: string,
    readonly statusCode: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const notFound = (what = 'Image'): AppError => new AppError('not_found', 404, `${what} not found.`);

export const unauthorized = (message = 'Sign in to continue.'): AppError => new AppError('unauthorized', 401, message);

export const unavailable = (what: string): AppError =>
  new AppError('service_unavailable', 503, `${what} is unavailable right now. Try again in a moment.`, {
    'retry-after': '5',
  });
