import type { Kysely, Transaction } from 'kysely';

import type { DB } from './tables.js';

/** A repository runs on the database or inside a caller's transaction. */
export type Executor = Kysely<DB> | Transaction<DB>;
