import type { InternalRoute, RoutePart } from '../api/internal.js';
import type { CallOptions, ServiceCaller } from './http-client.js';

/** What a call to one internal route sends: its path parameters, query and JSON body, as declared. */
export type InternalCall<R extends InternalRoute> = Omit<CallOptions, 'method' | 'path' | 'query' | 'json'> &
  (R['params'] extends object ? { params: RoutePart<R, 'params'> } : { params?: undefined }) &
  (R['querystring'] extends object ? { query: RoutePart<R, 'querystring'> } : { query?: undefined }) &
  (R['body'] extends object ? { json: RoutePart<R, 'body'> } : { json?: undefined });

/** The route's URL with its `:name` parameters filled in, each URI-encoded. */
export function internalPath(route: InternalRoute, params: Record<string, string> = {}): string {
  return route.url.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(params[name] ?? ''));
}

/** Calls one internal route and answers its declared response type (undefined for 204). */
export function callInternal<R extends InternalRoute>(
  client: ServiceCaller,
  route: R,
  call: InternalCall<R>,
): Promise<RoutePart<R, 'response'>> {
  const { params, query, json, ...options } = call;
  return client.json<RoutePart<R, 'response'>>({
    ...options,
    method: route.method,
    path: internalPath(route, params as Record<string, string> | undefined),
    query: query as CallOptions['query'],
    json,
  });
}
