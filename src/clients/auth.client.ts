import type { DeviceSignIn, Principal, SignIn, UserDto } from '../modules/auth/auth.service.js';
import type { AuthClient } from './clients.js';
import type { ServiceClient } from './http-client.js';

/**
 * The auth service over HTTP (pod mode). Tokens travel in the Authorization header, never in a
 * URL, so they stay out of every log.
 */
export function httpAuthClient(client: ServiceClient): AuthClient {
  const user = (userId: string) => `/internal/auth/users/${encodeURIComponent(userId)}`;
  return {
    register: (username, password, options = {}) =>
      client.json<DeviceSignIn>({
        method: 'POST',
        path: '/internal/auth/register',
        json: { username, password, role: options.role, address: options.address },
      }),
    // The device cookie's value travels in the body like the address: the gateway read it.
    login: (username, password, address, device) =>
      client.json<DeviceSignIn>({
        method: 'POST',
        path: '/internal/auth/login',
        json: { username, password, address, device },
      }),
    logout: (sessionId) => client.json<void>({ method: 'POST', path: '/internal/auth/logout', json: { sessionId } }),
    authenticate: (token) =>
      client.json<Principal>({
        method: 'GET',
        path: '/internal/auth/principal',
        headers: { authorization: `Bearer ${token}` },
        retry: true,
      }),
    changePassword: (principal, currentPassword, newPassword, address, device) =>
      client.json<SignIn>({
        method: 'POST',
        path: '/internal/auth/password',
        json: { principal, currentPassword, newPassword, address, device },
      }),
    getUser: (userId) => client.json<UserDto>({ method: 'GET', path: user(userId), retry: true }),
    deleteUser: (userId) => client.json<void>({ method: 'DELETE', path: user(userId) }),
  };
}
