import { parseRange } from '../http/media-headers.js';
import { AppError } from '../lib/app-error.js';
import type { SharedRange } from '../modules/shares/sharing.js';

/**
 * A request's Range header, resolved against the size where the bytes are: the gateway may not know
 * it (a shared video in pod mode passes the header on to the storage service, which does). An
 * unsatisfiable range is a 416 thrown before anything is opened or charged. Used by the owner's media
 * routes and by share links alike.
 */
export function rangeRequest(header: string | undefined): SharedRange | undefined {
  if (header === undefined || header === '') return undefined;
  return {
    header,
    resolve(size) {
      const parsed = parseRange(header, size);
      if (parsed === 'unsatisfiable') {
        throw new AppError('range_not_satisfiable', 416, `The requested range is outside the file of ${size} bytes.`, {
          'content-range': `bytes */${size}`,
        });
      }
      return parsed;
    },
  };
}
