import type { Image as Photo } from '../../../src/api/index.js';

/** What the lightbox plays for a video, or the sentence it shows instead. */
export interface VideoSource {
  src?: string;
  note?: string;
}

/**
 * The original when this browser says it can play its codec (canPlayType with the type and RFC 6381
 * codec string the API gives, e.g. HEVC is "" in Chromium without hardware decoding), else the H.264
 * playback copy once it is ready. H.264 originals (`playback: 'original'`) play everywhere.
 */
export function videoSource(photo: Photo, canPlay: (type: string) => boolean = browserCanPlay): VideoSource {
  if (photo.playback === 'original') return { src: photo.urls.original };
  if (photo.playback === 'ready' && photo.urls.playback) {
    return { src: photo.videoType && canPlay(photo.videoType) ? photo.urls.original : photo.urls.playback };
  }
  if (photo.videoType && canPlay(photo.videoType)) return { src: photo.urls.original };
  if (photo.playback === 'failed') {
    return { note: 'This video could not be converted for this browser. Download the original to watch it.' };
  }
  return { note: 'Preparing video… It will play here once it has been converted for this browser.' };
}

function browserCanPlay(type: string): boolean {
  return document.createElement('video').canPlayType(type) !== '';
}
