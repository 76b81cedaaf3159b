const MAX_LENGTH = 255;

/**
 * A user-supplied filename made safe to store and display. It is never used as a path: objects are
 * stored under generated keys. Directory parts, control characters and bidirectional overrides
 * (which can disguise `gpj.exe` as `exe.jpg`) are removed, and the length is bounded.
 */
export function cleanFilename(raw: string | undefined): string {
  const base = (raw ?? '').split(/[/\\]/).pop() ?? '';
  const cleaned = base
    .normalize('NFC')
    // eslint-disable-next-line no-control-regex -- removing control characters is the point
    .replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g, '')
    .trim();
  if (!cleaned || cleaned === '.' || cleaned === '..') return 'image';
  // Count and cut in code points, never inside a surrogate pair: half an emoji is not a character.
  const chars = [...cleaned];
  if (chars.length <= MAX_LENGTH) return cleaned;
  const dot = cleaned.lastIndexOf('.');
  const ext = dot > 0 && cleaned.length - dot <= 10 ? cleaned.slice(dot) : '';
  return chars.slice(0, MAX_LENGTH - [...ext].length).join('') + ext;
}
