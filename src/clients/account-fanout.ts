import type { Logger } from 'pino';

import type { AuthService } from '../modules/auth/auth.service.js';
import type { AuthClient, StorageClient } from './clients.js';

/**
 * The auth client the gateway uses: registration asks the auth service (the account) and the
 * storage service (can it take the account's photos) at the same time, as the original Pixa's
 * "create user" did. When either fails, the person gets that one error and no account is left
 * behind: an account created while storage failed is deleted again.
 */
export function withAccountFanout(
  auth: AuthClient,
  storage: Pick<StorageClient, 'checkReady'>,
  logger: Logger,
): AuthService {
  return {
    ...auth,
    async register(username, password, options) {
      const [account, storageLeg] = await Promise.allSettled([
        auth.register(username, password, options),
        storage.checkReady(),
      ]);
      if (account.status === 'rejected') throw account.reason;
      if (storageLeg.status === 'rejected') {
        try {
          await auth.deleteUser(account.value.user.id);
        } catch (error) {
          // The account stays usable (nothing of it is in storage yet); it only was not meant to exist.
          logger.error({ err: error, userId: account.value.user.id }, 'could not undo an account after storage failed');
        }
        throw storageLeg.reason;
      }
      return account.value;
    },
  };
}
