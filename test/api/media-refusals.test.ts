import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { signedUpUser, type ImageBody } from '../helpers/api.js';
import { makePhoto } from '../helpers/photos.js';
import { startApiServer, type ApiServer } from './support/server.js';
import { setUserQuotas, storageEvents } from './support/state.js';

let server: ApiServer;

beforeAll(async () => {
  server = await startApiServer({ env: { PIXA_DAILY_TRANSFER_MB: '100000' } });
});
afterAll(() => server?.close());

/** The transfer refusals counted where images are opened: the one process, or the pod's gateway (which reads them itself). */
async function transferRejections(): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(/pixa_quota_rejections_total\{quota="transfer"\} (\d+)/.exec(text)?.[1] ?? 0);
}

describe('media refusals', () => {
  it('a preview past the transfer quota › one 429, counted once, nothing charged or logged', async () => {
    const { token, userId } = await signedUpUser(server.client);
    const uploaded = await server.client.upload(token, [
      { name: 'photo.jpg', data: await makePhoto({ seed: 77, width: 900, height: 600 }) },
    ]);
    expect(uploaded.status).toBe(201);
    const image = uploaded.body.images[0]! as ImageBody;
    await setUserQuotas(server, userId, { daily_transfer_bytes: 1 });
    const before = await transferRejections();

    const refused = await server.client.fetchMedia(image.urls.preview);

    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('transfer_quota_exceeded');
    // The fast lane tried first; the route answered with the lane's error instead of opening again.
    expect((await transferRejections()) - before).toBe(1);
    expect((await storageEvents(server, userId)).filter((event) => event.operation === 'download')).toEqual([]);
  });
});
