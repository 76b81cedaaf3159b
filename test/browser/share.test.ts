import { expect, test } from 'vitest';

import { apiClient, signedUpUser } from '../helpers/api.js';
import { makePhoto } from '../helpers/photos.js';
import { browserSuite, describeInBrowser, DESKTOP, newPage, PHONE, screenshot } from './browser.js';
import { horizontalOverflow } from './gallery-page.js';
import { accessibilityProblems, signedInWithPhotos, uploadPhotos, nav, waitForImages, where } from './library.js';

describeInBrowser('web UI › share links', () => {
  const suite = browserSuite({
    server: {},
    // A daily transfer of 1 MB, used up by the owner's own uploads: their links rest until tomorrow.
    tight: { PIXA_DAILY_TRANSFER_MB: '1' },
  });

  test('photos chosen with shift-click are shared with a password and seen without an account', async () => {
    const owner = await signedInWithPhotos(suite.browser, suite.server.url, DESKTOP, 5, 'sharer');
    const { page } = owner;

    // Multi-select: one click, then a shift-click takes the three photos in between too.
    await page.getByRole('button', { name: 'Select', exact: true }).click();
    // photo-0 is the newest, photo-4 the oldest.
    await page.getByRole('button', { name: 'Select photo-0.jpg' }).click();
    await page.getByRole('button', { name: 'Select photo-2.jpg' }).click({ modifiers: ['Shift'] });
    const bar = page.getByRole('region', { name: 'Selection' });
    await expect.poll(() => bar.locator('.count').textContent()).toContain('3 selected');
    await screenshot(page, 'select-desktop');

    await bar.getByRole('button', { name: 'Share' }).click();
    const dialog = page.getByRole('dialog', { name: 'Share 3 photos' });
    await dialog.getByText('1 day').click();
    await dialog.getByLabel('Password (optional)').fill('open sesame');
    await screenshot(page, 'share-dialog-desktop');
    expect(await accessibilityProblems(page)).toEqual([]);
    await dialog.getByRole('button', { name: 'Create link' }).click();
    const linkField = dialog.getByLabel('Link');
    await expect.poll(() => linkField.inputValue()).toMatch(/\/s\/[A-Za-z0-9_-]{20,}$/);
    const link = await linkField.inputValue();
    await dialog.getByRole('button', { name: 'Done' }).click();

    // The shared links page lists it, with its password.
    await nav(page, 'Shared links').click();
    expect(where(page)).toBe('/shares');
    const row = page.locator('.share').first();
    await expect.poll(() => row.textContent()).toContain('3 photos');
    expect(await row.textContent()).toContain('Password');
    await screenshot(page, 'shares-desktop');
    expect(await accessibilityProblems(page)).toEqual([]);

    // A visitor with no account: first the password, a wrong one is refused.
    const visitor = await newPage(suite.browser, PHONE);
    await visitor.page.goto(link);
    await visitor.page.getByRole('heading', { name: 'These photos are protected' }).waitFor();
    expect(await visitor.page.getByRole('button', { name: 'Account menu' }).count()).toBe(0);
    await visitor.page.getByLabel('Password').fill('wrong guess');
    await visitor.page.getByRole('button', { name: 'Show the photos' }).click();
    await visitor.page.getByText('That password is not right').waitFor();
    await screenshot(visitor.page, 'shared-password-phone');
    expect(await accessibilityProblems(visitor.page)).toEqual([]);
    await visitor.page.getByLabel('Password').fill('open sesame');
    await visitor.page.getByRole('button', { name: 'Show the photos' }).click();
    const thumbs = visitor.page.locator('.thumb');
    await expect.poll(() => thumbs.count()).toBe(3);
    await waitForImages(visitor.page, '.thumb img');
    expect(await horizontalOverflow(visitor.page)).toBe(0);
    await screenshot(visitor.page, 'shared-phone');
    expect(await accessibilityProblems(visitor.page)).toEqual([]);

    // The viewer is part of the URL: reload keeps it open, Back closes it, Forward opens it again.
    await thumbs.nth(1).click();
    const viewer = visitor.page.getByRole('dialog', { name: 'Photo viewer' });
    await viewer.locator('img.preview.loaded').waitFor();
    expect(where(visitor.page)).toMatch(/\?photo=/);
    const photoUrl = where(visitor.page);
    await screenshot(visitor.page, 'shared-lightbox-phone');
    await visitor.page.reload();
    await viewer.locator('img.preview.loaded').waitFor();
    expect(where(visitor.page)).toBe(photoUrl);
    await visitor.page.goBack();
    await viewer.waitFor({ state: 'detached' });
    expect(where(visitor.page)).not.toMatch(/photo=/);
    await visitor.page.goForward();
    await viewer.locator('img.preview.loaded').waitFor();
    await visitor.page.keyboard.press('Escape');
    await viewer.waitFor({ state: 'detached' });

    // The same link on a desktop, in yet another context: the password is asked again.
    const desktop = await newPage(suite.browser, DESKTOP);
    await desktop.page.goto(link);
    await desktop.page.getByLabel('Password').fill('open sesame');
    await desktop.page.getByRole('button', { name: 'Show the photos' }).click();
    await expect.poll(() => desktop.page.locator('.thumb').count()).toBe(3);
    await screenshot(desktop.page, 'shared-desktop');

    // Revoked, the link is a plain "does not exist", like a key that never existed.
    await row.getByRole('button', { name: /Revoke/ }).click();
    await page.getByRole('dialog', { name: 'Revoke this link?' }).getByRole('button', { name: 'Revoke' }).click();
    await expect.poll(() => page.locator('.share').count()).toBe(0);
    await desktop.page.reload();
    await desktop.page.getByRole('heading', { name: 'This link does not exist or has expired' }).waitFor();
    await desktop.page.goto(new URL('/s/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', suite.server.url).href);
    await desktop.page.getByRole('heading', { name: 'This link does not exist or has expired' }).waitFor();
    await screenshot(desktop.page, 'shared-missing-desktop');

    // A 404 on the page's own request is the expected answer here.
    expect(owner.problems).toEqual([]);
    expect(visitor.problems).toEqual([]);
    expect(desktop.problems.filter((problem) => !/status of 404/.test(problem))).toEqual([]);
    for (const context of [owner.context, visitor.context, desktop.context]) await context.close();
  });

  test('when the owner’s transfer of the day is used up, the shared page says it is resting', async () => {
    const client = apiClient(suite.tight.url);
    const owner = await signedUpUser(client, 'resting');
    const [photo] = await uploadPhotos(suite.tight.url, owner.token, 1);
    const created = await client.request<{ url: string }>('POST', '/api/v1/shares', {
      token: owner.token,
      json: { imageIds: [photo?.id] },
    });
    expect(created.status).toBe(201);
    // Noisy photos barely compress: a few uploads use the 1 MB of the day.
    for (let seed = 1; seed < 40; seed++) {
      const usage = await client.usage(owner.token);
      if (usage.body.transfer.usedBytes >= usage.body.transfer.quotaBytes) break;
      const data = await makePhoto({ width: 500, height: 500, seed, noise: true });
      await client.upload(owner.token, [{ name: `noise-${seed}.jpg`, data, type: 'image/jpeg' }]);
    }

    const visitor = await newPage(suite.browser, PHONE);
    await visitor.page.goto(new URL(created.body.url, suite.tight.url).href);
    await visitor.page.getByRole('heading', { name: 'This album is resting until tomorrow' }).waitFor();
    expect(await horizontalOverflow(visitor.page)).toBe(0);
    await screenshot(visitor.page, 'shared-resting-phone');
    expect(await accessibilityProblems(visitor.page)).toEqual([]);
    expect(visitor.problems.filter((problem) => !/status of 429/.test(problem))).toEqual([]);
    await visitor.context.close();
  });
});
