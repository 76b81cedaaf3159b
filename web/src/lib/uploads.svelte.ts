import { discardUnfinished, isResumable, unfinishedUploads, uploadPhoto, uploadResumable } from './api.js';
import type { UnfinishedUpload, UploadHandle } from './api.js';
import type { UploadedImage as UploadedPhoto } from '../../../src/api/index.js';

/** Files uploading at the same time; the rest wait their turn. */
const PARALLEL = 3;

export type UploadStatus = 'queued' | 'uploading' | 'processing' | 'done' | 'duplicate' | 'failed' | 'cancelled';

export interface UploadTask {
  id: number;
  file: File;
  status: UploadStatus;
  loaded: number;
  total: number;
  message: string;
  /** Whether the file goes through the resumable endpoint (large files and videos). */
  resumable: boolean;
  /** Bytes per second lately, 0 until known. */
  speed: number;
}

/** How much the newest sample weighs in the speed shown (a moving average smooths chunk bursts). */
const SPEED_WEIGHT = 0.3;

const FINISHED: ReadonlySet<UploadStatus> = new Set(['done', 'duplicate', 'failed', 'cancelled']);

/** Whether the person cancelled the upload while its request was under way. */
function isCancelled(task: UploadTask): boolean {
  return task.status === 'cancelled';
}

/** The upload queue behind the upload panel: one file per request, a few at a time. */
class UploadState {
  tasks = $state<UploadTask[]>([]);
  /** Whether the panel is shown at all, and whether it is folded to its header. */
  open = $state(false);
  collapsed = $state(false);
  #nextId = 1;
  #handles = new Map<number, UploadHandle>();
  #onUploaded: (photos: UploadedPhoto[]) => void = () => {};
  /** Resumable uploads an earlier page of this browser left unfinished; resuming asks for the file again. */
  unfinished = $state<UnfinishedUpload[]>([]);

  get active(): number {
    return this.tasks.filter((task) => !FINISHED.has(task.status)).length;
  }

  get failed(): number {
    return this.tasks.filter((task) => task.status === 'failed').length;
  }

  /** Sets what happens with the photos of each finished upload. */
  onUploaded(listener: (photos: UploadedPhoto[]) => void): void {
    this.#onUploaded = listener;
  }

  add(files: Iterable<File>): void {
    let added = 0;
    for (const file of files) {
      this.tasks.push({
        id: this.#nextId++,
        file,
        status: 'queued',
        loaded: 0,
        total: file.size,
        message: '',
        resumable: isResumable(file),
        speed: 0,
      });
      // Picking the same file again resumes it, so it is no longer waiting for its file.
      this.unfinished = this.unfinished.filter((upload) => upload.filename !== file.name || upload.size !== file.size);
      added++;
    }
    if (added === 0) return;
    this.open = true;
    this.collapsed = false;
    this.#pump();
  }

  /** Looks for uploads this browser left unfinished (e.g. before a reload) and offers to resume them. */
  async loadUnfinished(): Promise<void> {
    const found = await unfinishedUploads();
    const running = new Set(this.tasks.map((task) => `${task.file.name}/${task.file.size}`));
    this.unfinished = found.filter((upload) => !running.has(`${upload.filename}/${upload.size}`));
    if (this.unfinished.length > 0) {
      this.open = true;
      this.collapsed = false;
    }
  }

  /** Gives up an unfinished upload: the server drops its bytes and the quota it holds. */
  async discard(key: string): Promise<void> {
    const upload = this.unfinished.find((candidate) => candidate.key === key);
    if (!upload) return;
    this.unfinished = this.unfinished.filter((candidate) => candidate.key !== key);
    await discardUnfinished(upload);
    if (this.tasks.length === 0 && this.unfinished.length === 0) this.open = false;
  }

  retry(id: number): void {
    const task = this.tasks.find((candidate) => candidate.id === id);
    if (!task || (task.status !== 'failed' && task.status !== 'cancelled')) return;
    Object.assign(task, { status: 'queued', loaded: 0, message: '', speed: 0 });
    this.#pump();
  }

  retryFailed(): void {
    for (const task of this.tasks) if (task.status === 'failed') this.retry(task.id);
  }

  cancel(id: number): void {
    const task = this.tasks.find((candidate) => candidate.id === id);
    if (!task || FINISHED.has(task.status)) return;
    this.#handles.get(id)?.abort();
    Object.assign(task, { status: 'cancelled', message: 'Cancelled' });
    this.#pump();
  }

  /** Hides the panel and forgets finished files; files still uploading keep going in a folded panel. */
  close(): void {
    this.tasks = this.tasks.filter((task) => !FINISHED.has(task.status));
    this.unfinished = [];
    if (this.tasks.length === 0) this.open = false;
    else this.collapsed = true;
  }

  /** Stops everything, e.g. when the session ends. */
  reset(): void {
    for (const handle of this.#handles.values()) handle.abort();
    this.#handles.clear();
    this.tasks = [];
    this.unfinished = [];
    this.open = false;
  }

  #pump(): void {
    let running = this.tasks.filter((task) => task.status === 'uploading' || task.status === 'processing').length;
    for (const task of this.tasks) {
      if (running >= PARALLEL) break;
      if (task.status !== 'queued') continue;
      running++;
      void this.#run(task);
    }
  }

  async #run(task: UploadTask): Promise<void> {
    task.status = 'uploading';
    task.loaded = 0;
    task.speed = 0;
    let sampledAt = performance.now();
    let sampledBytes = -1;
    const send = task.resumable ? uploadResumable : uploadPhoto;
    const handle = send(task.file, (loaded, total) => {
      if (task.status !== 'uploading' && task.status !== 'processing') return;
      const now = performance.now();
      // The first report of a resumed upload starts where an earlier page stopped: not sent just now.
      if (sampledBytes >= 0 && now > sampledAt && loaded >= sampledBytes) {
        const current = ((loaded - sampledBytes) * 1000) / (now - sampledAt);
        task.speed = task.speed === 0 ? current : task.speed * (1 - SPEED_WEIGHT) + current * SPEED_WEIGHT;
      }
      sampledAt = now;
      sampledBytes = loaded;
      task.loaded = loaded;
      task.total = total;
      // Every byte is sent; the server now checks the photo and makes its thumbnails.
      if (loaded >= total) task.status = 'processing';
    });
    this.#handles.set(task.id, handle);
    try {
      const photos = await handle.promise;
      if (isCancelled(task)) return;
      task.loaded = task.total;
      const duplicate = photos.length > 0 && photos.every((photo) => photo.duplicate);
      task.status = duplicate ? 'duplicate' : 'done';
      task.message = duplicate ? 'Already in your gallery' : 'Uploaded';
      this.#onUploaded(photos);
    } catch (error) {
      if (isCancelled(task)) return;
      task.status = 'failed';
      task.message = error instanceof Error ? error.message : 'Upload failed.';
    } finally {
      this.#handles.delete(task.id);
      this.#pump();
    }
  }
}

export const uploads = new UploadState();
