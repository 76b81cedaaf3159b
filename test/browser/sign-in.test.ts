import { expect, test } from 'vitest';

import { apiClient, newCredentials, signedUpUser } from '../helpers/api.js';
import { browserSuite, describeInBrowser, DESKTOP, newPage } from './browser.js';
import { createAccount, storedSession } from './gallery-page.js';

describeInBrowser('web UI › signing in', () => {
  const suite = browserSuite({ server: {} });

  test('the form explains bad input before sending, and the server’s refusals after', async () => {
    const { context, page, problems } = await newPage(suite.browser, DESKTOP);
    const taken = await signedUpUser(apiClient(suite.server.url), 'taken');
    await page.goto(suite.server.url);

    await page
      .getByRole('group', { name: 'Sign in or create an account' })
      .getByRole('button', { name: 'Create account' })
      .click();
    const username = page.getByLabel('Username');
    const password = page.getByLabel('Password', { exact: true });
    const submit = page.locator('form').getByRole('button', { name: 'Create account' });

    await username.fill('ab');
    await password.fill('short');
    await submit.click();
    await page.getByText('Usernames are at least 3 characters.').waitFor();
    await page.getByText('Passwords are at least 8 characters.').waitFor();
    expect(await username.getAttribute('aria-invalid')).toBe('true');

    // Lengths count characters as people do, as the server does: four cats are 4, not 8 UTF-16 units.
    const tooShort = page.getByText('Passwords are at least 8 characters.');
    await password.fill('long enough');
    await tooShort.waitFor({ state: 'hidden' });
    await password.fill('🐈🐈🐈🐈');
    await tooShort.waitFor();

    await username.fill('has space');
    await username.blur();
    await page.getByText('Use only letters, digits, dots, underscores and hyphens.').waitFor();
    await username.fill('x'.repeat(33));
    await username.blur();
    await page.getByText('Usernames are at most 32 characters.').waitFor();

    await username.fill(taken.username);
    await password.fill('a perfectly fine passphrase');
    await submit.click();
    await page.getByText('That username is taken. Try another one.').waitFor();

    await page
      .getByRole('group', { name: 'Sign in or create an account' })
      .getByRole('button', { name: 'Sign in' })
      .click();
    await username.fill(taken.username);
    await password.fill('not the password');
    await page.locator('form').getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').getByText('Wrong username or password.').waitFor();

    expect(problems).toEqual([]);
    await context.close();
  });

  test('after ten wrong passwords the form says how long to wait', async () => {
    const { context, page, problems } = await newPage(suite.browser, DESKTOP);
    const user = await signedUpUser(apiClient(suite.server.url), 'guess');
    await page.goto(suite.server.url);
    await page.getByLabel('Username').fill(user.username);
    const password = page.getByLabel('Password', { exact: true });
    const submit = page.locator('form').getByRole('button', { name: 'Sign in' });
    for (let attempt = 1; attempt <= 10; attempt++) {
      await password.fill(`wrong guess ${attempt}`);
      await submit.click();
      await page.getByText('Wrong username or password.').waitFor();
      await password.fill('');
    }
    await password.fill('wrong guess 11');
    await submit.click();
    const message = page.getByRole('alert').getByText(/^Too many attempts\. Try again in \d+ min\.$/);
    await message.waitFor();
    expect(await submit.isDisabled()).toBe(true);

    expect(problems).toEqual([]);
    await context.close();
  });

  test('an ended session lands on the sign-in page with a short message', async () => {
    const { context, page, problems } = await newPage(suite.browser, DESKTOP);
    await page.goto(suite.server.url);
    await createAccount(page, newCredentials('ended'));
    await page.getByRole('heading', { name: 'Your gallery is empty' }).waitFor();

    // The token is revoked behind the page's back, as when the password is changed elsewhere.
    const token = (await storedSession(page))?.token;
    const revoked = await apiClient(suite.server.url).request('POST', '/api/v1/auth/logout', { token });
    expect(revoked.status).toBe(204);

    await page.reload();
    await page.getByText('Your session has ended. Please sign in again.').waitFor();
    await page.getByRole('heading', { name: 'Sign in to Pixa' }).waitFor();
    expect(await storedSession(page)).toBeNull();

    expect(problems).toEqual([]);
    await context.close();
  });

  test('changing the password keeps this page signed in with the new token', async () => {
    const { context, page, problems } = await newPage(suite.browser, DESKTOP);
    const credentials = newCredentials('change');
    await page.goto(suite.server.url);
    await createAccount(page, credentials);
    await page.getByRole('heading', { name: 'Your gallery is empty' }).waitFor();
    const before = await storedSession(page);

    await page.getByRole('button', { name: 'Account menu' }).click();
    await page.getByRole('menuitem', { name: 'Change password' }).click();
    const dialog = page.getByRole('dialog', { name: 'Change password' });
    await dialog.getByLabel('Current password').fill('not my password');
    await dialog.getByLabel('New password', { exact: true }).fill('a brand new passphrase');
    await dialog.getByLabel('Repeat new password').fill('a brand new passphrase');
    await dialog.getByRole('button', { name: 'Change password' }).click();
    await dialog.getByText('That is not your current password.').waitFor();

    await dialog.getByLabel('Current password').fill(credentials.password);
    await dialog.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('Password changed. Other devices were signed out.').waitFor();
    const after = await storedSession(page);
    expect(after?.token).toBeTruthy();
    expect(after?.token).not.toBe(before?.token);

    await page.reload();
    await page.getByRole('heading', { name: 'Your gallery is empty' }).waitFor();
    const login = await apiClient(suite.server.url).login(credentials.username, 'a brand new passphrase');
    expect(login.status).toBe(200);

    expect(problems).toEqual([]);
    await context.close();
  });
});
