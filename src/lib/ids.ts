import { randomBytes } from 'node:crypto';

import { uuidv7 } from 'uuidv7';

/** A time-sortable identifier (UUIDv7), used for users, images and sessions. */
export const newId = (): string => uuidv7();

/** A random URL-safe secret of `bytes` bytes of entropy. */
export const randomSecret = (bytes = 32): string => randomBytes(bytes).toString('base64url');
