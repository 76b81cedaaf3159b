import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openDatabase, type Database } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { sweepOrphans } from '../../src/modules/images/sweeper.js';
import { signedUpUser } from '../helpers/api.js';
import { announceSkip, DIALECTS, type TestDatabase } from '../helpers/databases.js';
import { makePhoto, sha256 } from '../helpers/photos.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startCommitCutProxy, type CommitCutProxy } from './support/commit-cut-proxy.js';

for (const dialect of DIALECTS.filter((d) => d.name !== 'sqlite')) {
  describe.skipIf(dialect.skipReason)(`an upload whose COMMIT outcome is unknown, on ${dialect.name}`, () => {
    announceSkip('commit outcome', dialect);
    let created: TestDatabase;
    let direct: Database;
    let proxy: CommitCutProxy;
    let server: TestServer;

    beforeAll(async () => {
      created = await dialect.createDatabase();
      direct = await openDatabase(created.url, { poolSize: 2 });
      await migrateToLatest(direct.db);
      const url = new URL(created.url);
      proxy = await startCommitCutProxy({ host: url.hostname, port: Number(url.port) });
      url.hostname = '127.0.0.1';
      url.port = String(proxy.port);
      server = await startTestServer({ PIXA_DATABASE_URL: url.toString() });
    });
    afterAll(async () => {
      await server?.close();
      await proxy?.close();
      await direct?.close();
      await created?.drop();
    });

    it('the connection drops after COMMIT reached the server › 503, and the saved photo keeps its objects', async () => {
      const user = await signedUpUser(server.client, 'commit');
      const photo = await makePhoto({ seed: 2201, width: 640, height: 480 });

      const cut = proxy.cutNextCommit();
      const res = await server.client.upload(user.token, [{ name: 'saved.jpg', data: photo }]);
      await cut;

      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('upload_outcome_unknown');
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      // The server did commit: the row and the charge are there.
      const rows = await direct.db.selectFrom('images').selectAll().where('owner_id', '=', user.userId).execute();
      expect(rows).toHaveLength(1);
      const prefix = rows[0]!.object_prefix;
      for (const name of ['original', 'thumb.webp', 'preview.webp']) {
        expect(await server.store.stat(`${prefix}${name}`), name).toBeDefined();
      }
      // The gallery shows it and the original comes back byte for byte; the sweeper keeps it.
      const page = await server.client.list(user.token);
      expect(page.body.items.map((item) => item.id)).toEqual([rows[0]!.id]);
      const original = await server.client.fetchMedia(page.body.items[0]!.urls.original);
      expect(original.status).toBe(200);
      expect(sha256(original.body)).toBe(sha256(photo));
      const swept = await sweepOrphans(direct.db, server.store, 0, Date.now() + 60_000);
      expect(swept.orphans.filter((key) => key.startsWith(prefix))).toEqual([]);
      // Sending it again is safe: the same bytes are stored once.
      const again = await server.client.upload(user.token, [{ name: 'saved.jpg', data: photo }]);
      expect(again.status).toBeLessThan(300);
      expect(again.body.images[0]).toMatchObject({ id: rows[0]!.id, duplicate: true });
    });
  });
}
