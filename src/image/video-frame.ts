import sharp from 'sharp';

import { estimateVideoFrameBytes } from './decode-estimate.js';
import { PREVIEW_SIZE, THUMBNAIL_SIZE, underDecodeBudget, type Derivatives } from './image-processor.js';

/** A channel whose pixels vary less than this (standard deviation, 0–255) is one flat colour. */
const FLAT = 4;

/** Whether a video frame is one flat colour (black, a fade): no poster to show. */
export async function isUniformFrame(frame: Buffer): Promise<boolean> {
  const stats = await sharp(frame).stats();
  return stats.channels.slice(0, 3).every((channel) => channel.stdev < FLAT);
}

/**
 * The thumbnail and preview of a video, made from its poster frame (PNG, already turned upright and
 * no larger than the preview) as for a photo: WebP without metadata.
 */
export async function derivativesFromFrame(frame: Buffer): Promise<Derivatives> {
  const image = sharp(frame, { limitInputPixels: PREVIEW_SIZE * PREVIEW_SIZE }).toColourspace('srgb');
  const preview = await image
    .clone()
    .resize(PREVIEW_SIZE, PREVIEW_SIZE, { fit: 'inside', withoutEnlargement: true })
    .webp({ quality: 82, effort: 2 })
    .toBuffer();
  const thumbnail = await image
    .clone()
    .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside', withoutEnlargement: true })
    .webp({ quality: 78, effort: 2 })
    .toBuffer();
  return { thumbnail, preview };
}

/**
 * Makes a video's poster (`decode`: ffmpeg extracting a frame, then the derivatives from it) within
 * the process-wide decode bounds: ffmpeg's memory is the server's memory too (one container, one
 * limit). A frame size whose decode could never fit the budget is refused with a 413.
 */
export function posterWithinBudget<T>(width: number, height: number, decode: () => Promise<T>): Promise<T> {
  return underDecodeBudget(estimateVideoFrameBytes(width, height), { what: 'frames', width, height }, decode);
}
