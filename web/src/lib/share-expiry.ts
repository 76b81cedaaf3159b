/** The expiry presets of a share link, the same when it is made and when it is changed: never a past date. */

const DAY = 24 * 60 * 60 * 1000;

export const EXPIRY_PRESETS = [
  { value: '1d', label: '1 day', ms: DAY },
  { value: '7d', label: '1 week', ms: 7 * DAY },
  { value: '30d', label: '30 days', ms: 30 * DAY },
  { value: 'never', label: 'Never', ms: 0 },
] as const;

export type ExpiryPreset = (typeof EXPIRY_PRESETS)[number]['value'];

/** The expiry a preset sets from now, as the API takes it: an ISO date, or null for "never". */
export function expiryFromNow(preset: ExpiryPreset, now = Date.now()): string | null {
  const ms = EXPIRY_PRESETS.find((candidate) => candidate.value === preset)?.ms ?? 0;
  return ms ? new Date(now + ms).toISOString() : null;
}
