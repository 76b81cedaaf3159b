import pino, { type Logger } from 'pino';

export interface LoggerOptions {
  service: string;
  level: string;
}

/**
 * JSON-lines logs on stdout, each line tagged with its service. Credentials never reach a log:
 * authorization headers and password fields are redacted, and URLs are logged without their query
 * string (signed media URLs carry their signature there).
 */
export function createLogger({ service, level }: LoggerOptions): Logger {
  return pino({
    level,
    base: { service },
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'password', 'currentPassword', 'newPassword', '*.password'],
      censor: '[redacted]',
    },
    serializers: {
      req: (req: { method: string; url: string; ip?: string; id?: string }) => ({
        method: req.method,
        url: req.url.split('?')[0],
        ip: req.ip,
      }),
    },
  });
}
