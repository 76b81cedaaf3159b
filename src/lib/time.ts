const DAY_MS = 24 * 60 * 60 * 1000;

/** The UTC day of an epoch-ms instant as `YYYY-MM-DD`; transfer quotas reset at UTC midnight. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Epoch ms of the next UTC midnight after `ms`. */
export function nextUtcMidnight(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS + DAY_MS;
}

export const toIso = (ms: number): string => new Date(ms).toISOString();
