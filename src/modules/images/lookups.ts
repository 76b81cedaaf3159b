import type { Kysely } from 'kysely';

import type { DB } from '../../db/tables.js';
import { AppError, notFound, unauthorized } from '../../lib/app-error.js';
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

/**
 * The distinct ids of a request that names several images, or a 404 naming the first malformed one:
 * an id that cannot be an image is "not found" like any unknown one.
 */
export function distinctImageIds(ids: readonly string[]): string[] {
  const distinct = [...new Set(ids)];
  const malformed = distinct.find((id) => !isImageId(id));
  if (malformed !== undefined) throw photosNotFound([malformed]);
  return distinct;
}

/** The answer when some of a request's ids are not the caller's photos: nothing was changed. */
export function photosNotFound(ids: readonly string[]): AppError {
  const shown = ids.slice(0, 5).join(', ');
  const more = ids.length > 5 ? ` and ${ids.length - 5} more` : '';
  return new AppError('not_found', 404, `Photo not found: ${shown}${more}. Nothing was changed.`);
}
