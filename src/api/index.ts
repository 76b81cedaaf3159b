/**
 * The contract of Pixa's HTTP API: every public and internal request and response shape, as TypeBox
 * schemas with their TypeScript types derived from them. Routes validate and serialise with these
 * schemas, services return these types, the HTTP clients between services and the web UI read them.
 * Nothing here imports server code, so the web can import its types.
 */
export * from './albums.js';
export * from './auth.js';
export * from './credential-rules.js';
export * from './errors.js';
export * from './images.js';
export * from './internal.js';
export * from './legacy.js';
export * from './shares.js';
export * from './trash.js';
export * from './usage.js';
