import { describe, expect, it } from 'vitest';

import { signedUpUser } from '../helpers/api.js';
import { EMBEDDED_ONLY, manualClock, twoReplicas } from './support/server.js';

/** How long a replica may still accept a session that ended on another one (auth.service.ts). */
const SESSION_TRUST_MS = 2_000;

const clock = manualClock(Date.now());
const replicas = twoReplicas(clock);

describe.skipIf(EMBEDDED_ONLY)('sessions on two replicas sharing the database', () => {
  it('signed out on one replica › refused there at once, on the other once its trust of 2 s has passed', async () => {
    const { token } = await signedUpUser(replicas.first.client);
    expect((await replicas.first.client.me(token)).status).toBe(200);
    expect((await replicas.second.client.me(token)).status).toBe(200);

    expect((await replicas.second.client.logout(token)).status).toBe(204);

    expect((await replicas.second.client.me(token)).status).toBe(401);
    clock.advance(SESSION_TRUST_MS);
    const after = await replicas.first.client.me(token);
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('unauthorized');
  });

  it('a new password on one replica › every old session refused there at once, on the other after 2 s', async () => {
    const { token, password } = await signedUpUser(replicas.first.client);
    expect((await replicas.first.client.me(token)).status).toBe(200);
    expect((await replicas.second.client.me(token)).status).toBe(200);

    const changed = await replicas.second.client.changePassword(token, password, `${password}-and-more`);
    expect(changed.status).toBe(200);

    expect((await replicas.second.client.me(token)).status).toBe(401);
    expect((await replicas.second.client.me(changed.body.token)).status).toBe(200);
    clock.advance(SESSION_TRUST_MS);
    expect((await replicas.first.client.me(token)).status).toBe(401);
    expect((await replicas.first.client.me(changed.body.token)).status).toBe(200);
  });

  it('a session read on one replica › still checked: a token signed out on the same replica is refused at once', async () => {
    const { token } = await signedUpUser(replicas.first.client);
    for (let i = 0; i < 3; i++) expect((await replicas.first.client.me(token)).status).toBe(200);
    expect((await replicas.first.client.logout(token)).status).toBe(204);
    expect((await replicas.first.client.me(token)).status).toBe(401);
  });
});
