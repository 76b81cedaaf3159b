import { createArchiveService, type ArchiveService } from './archive.service.js';
import type { ShareServiceDeps } from './share-deps.js';
import { createShareService, type ShareService } from './share.service.js';
import { createSharedViewService, type SharedViewService } from './shared-view.service.js';

export type { Archive } from './archive.service.js';
export type { ShareServiceDeps } from './share-deps.js';
export type { SharedMedia, SharedMediaRequest, SharedRange } from './shared-view.service.js';

/** Share links and ZIP downloads: the owner's links, what visitors see through them, and archives. */
export interface SharingService extends ShareService, SharedViewService, ArchiveService {}

export function createSharingService(deps: ShareServiceDeps): SharingService {
  return { ...createShareService(deps), ...createSharedViewService(deps), ...createArchiveService(deps) };
}
