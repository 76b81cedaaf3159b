import { parseRange } from '../http/media-headers.js';
import { AppError } from '../lib/app-error.js';
import type { SharedRange } from '../modules/shares/sharing.js';

/**
 * A shared video's Range header, resolved against the size the service finds (the gateway does not
 * know it, and in pod mode passes the header on to the storage service, which does). An unsatisfiable
 * range is a 416 thrown before anything is opened or charged.
 */
export function sharedRange(header: string | undefined): SharedRange | undefined {
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
