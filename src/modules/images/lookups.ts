import type { Kysely } from 'kysely';

import type { DB } from '../../db/tables.js';
import { notFound, unauthorized } from '../../lib/app-error.js';
import { findUserById, type UserRow } from '../auth/user.repository.js';
import { findOwnedImage, type ImageRow } from './image.repository.js';
import { isImageId } from './media-url.js';

/** The account a request acts for; gone since its token was issued is a 401. */
export async function userOrThrow(db: Kysely<DB>, userId: string): Promise<UserRow> {
  const user = await findUserById(db, userId);
  if (!user) throw unauthorized();
  return user;
}

/** The user's image, or 404 for a malformed id, an unknown one and another account's alike. */
export async function ownedImageOrThrow(db: Kysely<DB>, userId: string, imageId: string): Promise<ImageRow> {
  const row = isImageId(imageId) ? await findOwnedImage(db, userId, imageId) : undefined;
  if (!row) throw notFound();
  return row;
}
