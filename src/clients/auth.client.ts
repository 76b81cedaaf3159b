import { internalRoutes as routes } from '../api/internal.js';
import type { RemoteAuthClient } from './clients.js';
import type { ServiceCaller } from './http-client.js';
import { callInternal } from './internal-call.js';

/**
 * The auth service over HTTP (pod mode). Tokens never travel in a URL, so they stay out of every log;
 * the device cookie's value travels in the body. The gateway checks tokens and reads accounts itself.
 */
export function httpAuthClient(client: ServiceCaller): RemoteAuthClient {
  return {
    register: (username, password, options = {}) =>
      callInternal(client, routes.register, {
        json: { username, password, role: options.role, address: options.address },
      }),
    login: (username, password, address, device) =>
      callInternal(client, routes.login, { json: { username, password, address, device } }),
    logout: async (sessionId) => {
      await callInternal(client, routes.logout, { json: { sessionId } });
    },
    changePassword: (principal, currentPassword, newPassword, address, device) =>
      callInternal(client, routes.changePassword, {
        json: { principal, currentPassword, newPassword, address, device },
      }),
    deleteUser: async (userId) => {
      await callInternal(client, routes.deleteUser, { params: { userId } });
    },
  };
}
