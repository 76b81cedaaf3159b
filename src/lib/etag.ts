/**
 * Whether an If-None-Match header matches the ETag: `*`, or any listed tag by the weak comparison
 * that RFC 9110 prescribes for If-None-Match (a `W/` prefix is ignored).
 */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  // A browser revalidating sends back the one ETag it was given: no list to parse.
  if (header === etag) return true;
  return header
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === etag || tag === '*');
}
