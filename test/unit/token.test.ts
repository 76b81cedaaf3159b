import { afterEach, describe, expect, it, vi } from 'vitest';

import { createTokenSigner } from '../../src/modules/auth/token.js';

const SECRET = 'a secret of the right length for HS256, 32+ bytes';
const claims = (expiresInMs: number) => ({
  userId: 'user-1',
  sessionId: 'session-1',
  expiresAt: Math.floor((Date.now() + expiresInMs) / 1000) * 1000,
});

describe('tokens', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a token verified before is still checked for its expiry', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const signer = createTokenSigner(SECRET, 'HS256');
    const token = await signer.sign(claims(60_000));
    expect(await signer.verify(token)).toMatchObject({ userId: 'user-1', sessionId: 'session-1' });
    expect(await signer.verify(token)).toMatchObject({ userId: 'user-1', sessionId: 'session-1' });

    vi.setSystemTime(Date.now() + 61_000);
    expect(await signer.verify(token)).toBeUndefined();
    expect(await createTokenSigner(SECRET, 'HS256').verify(token)).toBeUndefined();
  });

  it('verifiedBefore › only a token verify() accepted, and only until it expires', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const signer = createTokenSigner(SECRET, 'HS256');
    const token = await signer.sign(claims(60_000));
    expect(signer.verifiedBefore(token)).toBeUndefined();
    expect(signer.verifiedBefore('not.a.token')).toBeUndefined();

    await signer.verify(token);
    expect(signer.verifiedBefore(token)).toMatchObject({ userId: 'user-1', sessionId: 'session-1' });
    expect(signer.verifiedBefore(`${token.slice(0, -1)}${token.at(-1) === 'A' ? 'B' : 'A'}`)).toBeUndefined();

    vi.setSystemTime(Date.now() + 61_000);
    expect(signer.verifiedBefore(token)).toBeUndefined();
  });

  it('a verified token does not vouch for an altered copy of it', async () => {
    const signer = createTokenSigner(SECRET, 'HS256');
    const token = await signer.sign(claims(60_000));
    expect(await signer.verify(token)).toBeDefined();

    const [header, payload, signature] = token.split('.') as [string, string, string];
    const otherUser = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: 'user-2' }),
    ).toString('base64url');
    const flipped = signature.slice(0, -2) + (signature.at(-2) === 'A' ? 'B' : 'A') + signature.at(-1);
    expect(await signer.verify(`${header}.${otherUser}.${signature}`)).toBeUndefined();
    expect(await signer.verify(`${header}.${payload}.${flipped}`)).toBeUndefined();
  });

  it('a token signed with another secret or algorithm is refused', async () => {
    const token = await createTokenSigner(SECRET, 'HS256').sign(claims(60_000));
    expect(await createTokenSigner(`${SECRET}!`, 'HS256').verify(token)).toBeUndefined();
    expect(await createTokenSigner(SECRET, 'HS512').verify(token)).toBeUndefined();
  });
});
