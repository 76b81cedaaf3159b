import { sql, type Kysely } from 'kysely';

import type { DB } from './tables.js';

/** One round trip to the database: resolves when it answers, rejects with the driver's error. */
export async function pingDatabase(db: Kysely<DB>): Promise<void> {
  await sql`select 1`.execute(db);
}
