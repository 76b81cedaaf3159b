/**
 * How one Pixa process is put together, in four parts under `src/app/`: the services without HTTP
 * (`core.ts`), embedded mode's one-port gateway over them (`embedded.ts`), the public gateway app and
 * the internal service apps (`gateway-app.ts`, `internal-app.ts`), and which of them a process runs
 * and listens with (`process.ts`). Background upkeep is in `maintenance.ts`.
 */
export { createCore, type PixaCore, type PixaOptions } from './app/core.js';
export { createPixa, type Pixa } from './app/embedded.js';
export { createPixaProcess, type Listener, type PixaProcess } from './app/process.js';
