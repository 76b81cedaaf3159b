/** Display helpers. Sizes use binary units, as the server's quotas do (1 MB = 1024 × 1024 bytes). */

const MB = 1024 * 1024;

/** A number of megabytes as the meters show it: "3.6", "1000", "0.04". */
export function megabytes(bytes: number): string {
  const value = bytes / MB;
  if (Number.isInteger(value)) return String(value);
  if (value < 0.1) return value < 0.005 ? '0' : value.toFixed(2);
  return value.toFixed(1);
}

/** A video's duration as players show it: "0:07", "12:04", "1:02:03". */
export function duration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
}

/** A file size for people: "812 KB", "3.4 MB". */
export function fileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < MB) return `${Math.round(bytes / 1024)} KB`;
  if (bytes < 1024 * MB) return `${(bytes / MB).toFixed(1)} MB`;
  return `${(bytes / (1024 * MB)).toFixed(2)} GB`;
}

/*
 * Dates taken come from the camera's clock (EXIF has no time zone), which the server reports as UTC.
 * Showing them in UTC shows the time the camera showed, and months never shift by a time zone.
 */
const monthFormat = new Intl.DateTimeFormat(undefined, { month: 'long', year: 'numeric', timeZone: 'UTC' });
const dayFormat = new Intl.DateTimeFormat(undefined, {
  day: 'numeric',
  month: 'short',
  year: 'numeric',
  timeZone: 'UTC',
});
const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  weekday: 'short',
  day: 'numeric',
  month: 'long',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  timeZone: 'UTC',
});

/** "2024-03" for grouping by month. */
export function monthKey(iso: string): string {
  return iso.slice(0, 7);
}

/** "March 2024". */
export function monthLabel(iso: string): string {
  return monthFormat.format(new Date(iso));
}

/** "12 Mar 2024". */
export function shortDate(iso: string): string {
  return dayFormat.format(new Date(iso));
}

/** "Tue, 12 March 2024, 14:05". */
export function longDateTime(iso: string): string {
  return dateTimeFormat.format(new Date(iso));
}

const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: 'always' });

/**
 * How far ahead a moment is, in the largest whole unit that fits: "in 1 day", "in 5 hours", "in 1 minute".
 * Rounded to the nearest unit, so a link made to last a day reads "in 1 day" a few seconds later.
 */
export function timeUntil(iso: string, now = Date.now()): string {
  const minutes = Math.max(0, Math.round((Date.parse(iso) - now) / 60_000));
  if (minutes >= 23 * 60) return relativeFormat.format(Math.round(minutes / (24 * 60)), 'day');
  if (minutes >= 90) return relativeFormat.format(Math.round(minutes / 60), 'hour');
  return relativeFormat.format(Math.max(1, minutes), 'minute');
}

/** Alt text for a photo: its name and the day it was taken (a shared photo may come without either). */
export function altText(photo: { filename?: string; takenAt?: string }): string {
  const name = photo.filename ?? 'Photo';
  return photo.takenAt ? `${name}, taken ${shortDate(photo.takenAt)}` : name;
}

/** Whole minutes to wait for a Retry-After in seconds, never 0. */
export function retryMinutes(seconds: number): number {
  return Math.max(1, Math.ceil(seconds / 60));
}
