import { expect, test } from 'vitest';

import { newCredentials } from '../helpers/api.js';
import { browserSuite, describeInBrowser, DESKTOP, newPage } from './browser.js';
import { createAccount, signIn } from './gallery-page.js';

describeInBrowser('web UI › device cookie', () => {
  const suite = browserSuite({ server: {} });

  test('guessing from elsewhere keeps a new browser out, the browser that created the account signs in', async () => {
    const credentials = newCredentials('device');
    const known = await newPage(suite.browser, DESKTOP);
    await known.page.goto(suite.server.url);
    await createAccount(known.page, credentials);
    await known.page.getByRole('heading', { name: 'Your gallery is empty' }).waitFor();
    // The page's plain fetch stored the cookie; no script can read it.
    const cookie = (await known.context.cookies()).find((c) => c.name === 'pixa_device');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/api/v1/auth' });

    // More than the account's 100 failures an hour, from other addresses.
    for (let round = 0; round < 11; round++) {
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          suite.server.pixa.auth
            .login(credentials.username, 'a wrong guess', `198.51.100.${round * 10 + i}`)
            .catch(() => undefined),
        ),
      );
    }

    const stranger = await newPage(suite.browser, DESKTOP);
    await stranger.page.goto(suite.server.url);
    await signIn(stranger.page, credentials);
    await stranger.page
      .getByRole('alert')
      .getByText(/^Too many attempts\. Try again in \d+ min\.$/)
      .waitFor();

    await known.page.getByRole('button', { name: 'Account menu' }).click();
    await known.page.getByRole('menuitem', { name: 'Sign out' }).click();
    await known.page
      .getByRole('dialog', { name: 'Sign out of Pixa?' })
      .getByRole('button', { name: 'Sign out' })
      .click();
    await signIn(known.page, credentials);
    await known.page.getByRole('heading', { name: 'Your gallery is empty' }).waitFor();

    expect(known.problems).toEqual([]);
    expect(stranger.problems).toEqual([]);
    await known.context.close();
    await stranger.context.close();
  });
});
