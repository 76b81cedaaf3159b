import { AppError } from '../../lib/app-error.js';
import type { PageCursor } from './image.repository.js';

/** The gallery's page cursor: where the last page ended, opaque to clients. */
export function encodeCursor(cursor: PageCursor): string {
  return Buffer.from(`${cursor.takenAt}.${cursor.id}`).toString('base64url');
}

export function decodeCursor(raw: string): PageCursor {
  const match = /^(-?\d{1,15})\.([0-9a-f-]{36})$/.exec(Buffer.from(raw, 'base64url').toString());
  if (!match) {
    throw new AppError('invalid_cursor', 400, 'The page cursor is not valid. Start again from the first page.');
  }
  return { takenAt: Number(match[1]), id: match[2]! };
}
