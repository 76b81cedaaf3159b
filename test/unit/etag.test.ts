import { describe, expect, it } from 'vitest';

import { etagMatches } from '../../src/lib/etag.js';

describe('etagMatches', () => {
  const etag = '"abc"';

  it.each([
    ['the same tag', '"abc"'],
    ['the weak form of it', 'W/"abc"'],
    ['it among others, with spaces', '"x", W/"abc" , "y"'],
    ['the wildcard', '*'],
  ])('If-None-Match with %s › matches', (_case, header) => expect(etagMatches(header, etag)).toBe(true));

  it.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['another tag', '"abd"'],
    ['the tag unquoted', 'abc'],
  ])('If-None-Match with %s › does not match', (_case, header) => expect(etagMatches(header, etag)).toBe(false));
});
