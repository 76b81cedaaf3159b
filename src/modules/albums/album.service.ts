import type { Album, AlbumChanges, AlbumList, NewAlbum } from '../../api/albums.js';
import type { ImagePage } from '../../api/images.js';
import type { DialectName } from '../../db/database.js';
import type { Executor } from '../../db/executor.js';
import { inTransaction } from '../../db/transaction.js';
import type { Kysely } from 'kysely';
import type { DB } from '../../db/tables.js';
import { AppError, notFound } from '../../lib/app-error.js';
import { newId } from '../../lib/ids.js';
import { decodeCursor, encodeCursor } from '../images/cursor.js';
import { imageDtoMapper } from '../images/image-dto.js';
import * as images from '../images/image.repository.js';
import { distinctImageIds, photosNotFound } from '../images/lookups.js';
import { isImageId, type MediaUrlSigner } from '../images/media-url.js';
import * as albums from './album.repository.js';
import { toAlbumDto } from './album-dto.js';

export interface AlbumServiceDeps {
  db: Kysely<DB>;
  dialect: DialectName;
  signer: MediaUrlSigner;
  now?: () => number;
}

export interface AlbumService {
  createAlbum(userId: string, album: NewAlbum): Promise<Album>;
  /** The caller's albums, most recent activity first, each with its count, cover and date range. */
  listAlbums(userId: string): Promise<AlbumList>;
  getAlbum(userId: string, albumId: string): Promise<Album>;
  /** Renames, describes or chooses the cover (a photo of the album, or null for the newest). */
  updateAlbum(userId: string, albumId: string, changes: AlbumChanges): Promise<Album>;
  /** Deletes the album; its photos stay in the gallery. */
  deleteAlbum(userId: string, albumId: string): Promise<void>;
  /** The album's photos in the gallery's order, a page at a time (photos in the trash left out). */
  listAlbumImages(userId: string, albumId: string, limit: number, cursor: string | undefined): Promise<ImagePage>;
  /** Adds the caller's photos; idempotent; any id not the caller's photo in the gallery is a 404, nothing changed. */
  addToAlbum(userId: string, albumId: string, imageIds: readonly string[]): Promise<Album>;
  /** Removes photos from the album (never from the gallery); idempotent; the same 404 rule. */
  removeFromAlbum(userId: string, albumId: string, imageIds: readonly string[]): Promise<Album>;
}

const albumNotFound = (): AppError => notFound('Album');

/** Albums: named sets of an account's photos. A photo is in an album at most once and in any number of albums. */
export function createAlbumService(deps: AlbumServiceDeps): AlbumService {
  const { db, dialect, signer } = deps;
  const now = deps.now ?? Date.now;
  const toImage = imageDtoMapper(signer);

  async function ownedAlbumOrThrow(executor: Executor, userId: string, albumId: string): Promise<albums.AlbumRow> {
    const row = isImageId(albumId) ? await albums.findOwnedAlbum(executor, userId, albumId) : undefined;
    if (!row) throw albumNotFound();
    return row;
  }

  /** The cover's image id: the chosen one while it is in the album and the gallery, else the newest photo. */
  async function coverOf(row: albums.AlbumRow): Promise<string | undefined> {
    if (row.cover_image_id !== null && (await albums.holdsLiveImage(db, row.id, row.cover_image_id))) {
      return row.cover_image_id;
    }
    return albums.newestImageId(db, row.id);
  }

  async function describe(rows: albums.AlbumRow[]): Promise<Album[]> {
    const stats = await albums.albumStats(
      db,
      rows.map((row) => row.id),
    );
    const covers = await Promise.all(rows.map(coverOf));
    return rows.map((row, i) => toAlbumDto(row, stats.get(row.id), covers[i], signer));
  }

  async function describeOne(userId: string, albumId: string): Promise<Album> {
    const [album] = await describe([await ownedAlbumOrThrow(db, userId, albumId)]);
    return album!;
  }

  /** The distinct ids, each the caller's photo in the gallery, or a 404 naming those that are not. */
  async function livePhotosOrThrow(executor: Executor, userId: string, imageIds: readonly string[]): Promise<string[]> {
    const wanted = distinctImageIds(imageIds);
    const owned = await images.ownedIds(executor, userId, wanted);
    const missing = wanted.filter((id) => !owned.has(id));
    if (missing.length > 0) throw photosNotFound(missing);
    return wanted;
  }

  return {
    async createAlbum(userId, album) {
      const at = now();
      const row: albums.AlbumRow = {
        id: newId(),
        owner_id: userId,
        title: titleOrThrow(album.title),
        description: album.description ?? '',
        cover_image_id: null,
        created_at: at,
        updated_at: at,
        activity_at: at,
      };
      await albums.insertAlbum(db, row);
      return toAlbumDto(row, undefined, undefined, signer);
    },

    async listAlbums(userId) {
      return { items: await describe(await albums.listAlbums(db, userId)) };
    },

    getAlbum: describeOne,

    async updateAlbum(userId, albumId, changes) {
      await inTransaction(db, async (trx) => {
        const row = await ownedAlbumOrThrow(trx, userId, albumId);
        const cover = changes.coverImageId;
        if (cover !== undefined && cover !== null && !(await albums.holdsLiveImage(trx, row.id, cover))) {
          throw new AppError(
            'cover_not_in_album',
            400,
            'The cover must be one of the album’s photos. Add the photo to the album first.',
          );
        }
        await albums.updateAlbum(trx, row.id, {
          ...(changes.title !== undefined && { title: titleOrThrow(changes.title) }),
          ...(changes.description !== undefined && { description: changes.description }),
          ...(cover !== undefined && { cover_image_id: cover }),
          updated_at: now(),
        });
      });
      return describeOne(userId, albumId);
    },

    async deleteAlbum(userId, albumId) {
      if (!isImageId(albumId)) throw albumNotFound();
      const deleted = await inTransaction(db, (trx) => albums.deleteAlbum(trx, userId, albumId));
      if (!deleted) throw albumNotFound();
    },

    async listAlbumImages(userId, albumId, limit, cursor) {
      const after = cursor === undefined ? undefined : decodeCursor(cursor);
      const album = await ownedAlbumOrThrow(db, userId, albumId);
      const rows = await albums.listAlbumPage(db, album.id, limit + 1, after);
      const page = rows.slice(0, limit);
      const memberships = await albums.albumIdsOfImages(
        db,
        page.map((row) => row.id),
      );
      const last = page[page.length - 1];
      return {
        items: page.map((row) => toImage(row, memberships.get(row.id))),
        nextCursor: rows.length > limit && last ? encodeCursor({ takenAt: last.taken_at, id: last.id }) : null,
      };
    },

    async addToAlbum(userId, albumId, imageIds) {
      await inTransaction(db, async (trx) => {
        const album = await ownedAlbumOrThrow(trx, userId, albumId);
        const wanted = await livePhotosOrThrow(trx, userId, imageIds);
        const present = await albums.membersAmong(trx, album.id, wanted);
        const adding = wanted.filter((id) => !present.has(id));
        if (adding.length === 0) return;
        const rows = await images.takenAtOf(trx, adding);
        const at = now();
        await albums.addMembers(trx, dialect, album.id, rows, at);
        await albums.updateAlbum(trx, album.id, { updated_at: at, activity_at: at });
      });
      return describeOne(userId, albumId);
    },

    async removeFromAlbum(userId, albumId, imageIds) {
      await inTransaction(db, async (trx) => {
        const album = await ownedAlbumOrThrow(trx, userId, albumId);
        const wanted = await livePhotosOrThrow(trx, userId, imageIds);
        if ((await albums.removeMembers(trx, album.id, wanted)) === 0) return;
        const coverGone = album.cover_image_id !== null && wanted.includes(album.cover_image_id);
        await albums.updateAlbum(trx, album.id, { updated_at: now(), ...(coverGone && { cover_image_id: null }) });
      });
      return describeOne(userId, albumId);
    },
  };
}

/** The title without surrounding spaces; one of spaces only is no title. */
function titleOrThrow(title: string): string {
  const trimmed = title.trim();
  if (trimmed.length === 0) throw new AppError('invalid_title', 400, 'An album needs a title of 1 to 200 characters.');
  return trimmed;
}
