import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { openDatabase, type Database } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { createEventBatcher } from '../../src/modules/usage/event-batcher.js';
import type { StorageEvent } from '../../src/modules/usage/storage-event.repository.js';

const USER = randomUUID();
const view = (i: number): StorageEvent => ({
  at: 1_795_900_000_000 + i,
  user_id: USER,
  image_id: null,
  operation: 'download',
  object_key: `u/i${i}/thumb.webp`,
  bytes: 100,
  status: 200,
});

describe('thumbnail event batches', () => {
  let dir: string;
  let database: Database;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'pixa-batcher-'));
    database = await openDatabase(`sqlite://${dir}/pixa.db`);
    await migrateToLatest(database.db);
    await database.db
      .insertInto('users')
      .values({
        id: USER,
        username: 'viewer',
        username_key: 'viewer',
        password_hash: 'x',
        role: 'user',
        storage_quota_bytes: null,
        daily_transfer_bytes: null,
        storage_used_bytes: 0,
        created_at: 0,
      })
      .execute();
  });
  afterEach(async () => {
    await database.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it('writes every queued view once flushed', async () => {
    const batcher = createEventBatcher(database.db, { intervalMs: 60_000, maxBatch: 50 });
    for (let i = 0; i < 120; i++) batcher.add(view(i));
    await batcher.close();
    const rows = await database.db.selectFrom('storage_events').select('object_key').execute();
    expect(rows).toHaveLength(120);
  });

  it('with the database gone, a burst of views makes one write attempt at a time, not one per view', async () => {
    const errors: unknown[] = [];
    const batcher = createEventBatcher(database.db, {
      intervalMs: 60_000,
      maxBatch: 10,
      onError: (error) => errors.push(error),
    });
    await database.close();
    for (let i = 0; i < 1000; i++) batcher.add(view(i));
    await batcher.close();
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.length).toBeLessThanOrEqual(3);
  });
});
