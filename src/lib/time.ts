const DAY_MS = 24 * 60 * 60 * 1000;

/** The last day formatted, kept because nearly every call (one per download logged) asks for it again. */
let lastDay = { start: 0, end: 0, day: '1970-01-01' };

/** The UTC day of an epoch-ms instant as `YYYY-MM-DD`; transfer quotas reset at UTC midnight. */
export function utcDay(ms: number): string {
  if (ms >= lastDay.start && ms < lastDay.end) return lastDay.day;
  const start = Math.floor(ms / DAY_MS) * DAY_MS;
  const day = new Date(ms).toISOString().slice(0, 10);
  // Only finite instants of the common era are remembered; anything else is formatted each time.
  if (Number.isFinite(start) && start >= 0) lastDay = { start, end: start + DAY_MS, day };
  return day;
}

/** Epoch ms of the next UTC midnight after `ms`. */
export function nextUtcMidnight(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS + DAY_MS;
}

export const toIso = (ms: number): string => new Date(ms).toISOString();
