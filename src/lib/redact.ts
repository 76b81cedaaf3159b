/**
 * Credentials out of messages and logs. Connection and storage URLs carry them in two places: the
 * user-info part (`mysql://pixa:secret@db/pixa`) and the query string (`s3://bucket?secretAccessKey=…`,
 * `?sig=…` of a SAS URL); Azure connection strings carry `AccountKey=…`. Everything a start-up error or a
 * log line prints about a URL passes through here first.
 */

export const REDACTED = '***';

/** Query and connection-string keys whose values are secrets (compared case-insensitively). */
const SECRET_KEYS = [
  'password',
  'pass',
  'pwd',
  'secret',
  'secretaccesskey',
  'sessiontoken',
  'accesskeyid',
  'accountkey',
  'sharedaccesssignature',
  'sig',
  'signature',
  'token',
  'key',
  'apikey',
  'credentials',
  'sslkey',
  'sslpassword',
];

function isSecretKey(key: string): boolean {
  return SECRET_KEYS.includes(key.toLowerCase());
}

/**
 * Hides the password of a URL's user-info and the values of secret query parameters. Works on text
 * that does not parse as a URL too (a mistyped scheme is exactly when an error shows the URL).
 */
export function redactUrl(url: string): string {
  return (
    url
      // Up to the last `@`: an unencoded `@` or `/` in a password must not leave its tail visible.
      .replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)\S*@(?=[^@\s]*$)/i, `$1${REDACTED}@`)
      .replace(/([?&;])([^=&;#\s]+)=([^&;#\s]*)/g, (match, separator: string, key: string) =>
        isSecretKey(key) ? `${separator}${key}=${REDACTED}` : match,
      )
  );
}

/**
 * Redacts every URL and every `Key=value` credential pair found in free text, such as a driver's
 * error message that quotes its connection string.
 */
export function redactText(text: string): string {
  return text
    .replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s'"`<>]+/gi, (url) => redactUrl(url))
    .replace(/\b(AccountKey|SharedAccessSignature|Password|Pwd)=([^;\s'"]+)/gi, `$1=${REDACTED}`);
}
