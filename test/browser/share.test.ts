import { expect, test } from 'vitest';

import { apiClient, signedUpUser } from '../helpers/api.js';
import { makePhoto } from '../helpers/photos.js';
import { makeMp4WithLocation } from '../helpers/videos.js';
import { browserSuite, describeInBrowser, DESKTOP, newPage, PHONE, screenshot } from './browser.js';
import { horizontalOverflow, signIn } from './gallery-page.js';
import {
  accessibilityProblems,
  expectPlayable,
  signedInWithPhotos,
  uploadPhotos,
  nav,
  waitForImages,
  where,
} from './library.js';

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

  test('the owner changes a link’s expiry and password on the shared links page, and visitors see the change', async () => {
    const owner = await signedInWithPhotos(suite.browser, suite.server.url, DESKTOP, 2, 'changer');
    const { page } = owner;
    await page.getByRole('button', { name: 'Select', exact: true }).click();
    await page.getByRole('button', { name: 'Select photo-0.jpg' }).click();
    await page.getByRole('button', { name: 'Select photo-1.jpg' }).click();
    await page.getByRole('region', { name: 'Selection' }).getByRole('button', { name: 'Share' }).click();
    const create = page.getByRole('dialog', { name: 'Share 2 photos' });
    // Made with the defaults: a week, no password.
    await create.getByRole('button', { name: 'Create link' }).click();
    const linkField = create.getByLabel('Link');
    await expect.poll(() => linkField.inputValue()).toMatch(/\/s\/[A-Za-z0-9_-]{20,}$/);
    const link = await linkField.inputValue();
    // The link as a QR code too, drawn in the page: one dark square per module, inside a quiet zone.
    const qr = create.getByRole('img', { name: 'QR code to open it on a phone' });
    expect(await qr.locator('path').getAttribute('d')).toMatch(/^(M\d+ \d+h1v1h-1z)+$/);
    await screenshot(page, 'share-link-desktop');
    expect(await accessibilityProblems(page)).toEqual([]);
    await create.getByRole('button', { name: 'Done' }).click();

    await nav(page, 'Shared links').click();
    const row = page.locator('.share').first();
    await expect.poll(() => row.textContent()).toContain('Expires in 7 days');
    expect(await row.textContent()).not.toContain('Password');

    // One day and a password. Only expiries from now are offered: keeping the current one, or a preset.
    await row.getByRole('button', { name: 'Change the link to 2 photos' }).click();
    const change = page.getByRole('dialog', { name: 'Change the link to 2 photos' });
    const expiries = change.getByRole('group', { name: 'Link expires' }).getByRole('radio');
    expect(
      await expiries.evaluateAll((radios) => radios.map((radio) => radio.parentElement?.textContent?.trim())),
    ).toEqual(['Keep: in 7 days', '1 day', '1 week', '30 days', 'Never']);
    await change.getByText('1 day', { exact: true }).click();
    await change.getByLabel('Ask for a password').check();
    // Saving without the password says what is missing and sends nothing.
    await change.getByRole('button', { name: 'Save changes' }).click();
    await change.getByText('Enter the password visitors will need').waitFor();
    await change.getByLabel('New password').fill('family only');
    await screenshot(page, 'share-edit-desktop');
    expect(await accessibilityProblems(page)).toEqual([]);
    await change.getByRole('button', { name: 'Save changes' }).click();
    await change.waitFor({ state: 'detached' });
    await page.getByRole('status').getByText('visitors need the new password, it expires in 1 day').waitFor();
    await expect.poll(() => row.textContent()).toContain('Expires in 1 day');
    expect(await row.textContent()).toContain('Password');
    expect(await accessibilityProblems(page)).toEqual([]);

    // A visitor in a fresh context is asked for the password now.
    const visitor = await newPage(suite.browser, PHONE);
    await visitor.page.goto(link);
    await visitor.page.getByRole('heading', { name: 'These photos are protected' }).waitFor();
    await visitor.context.close();

    // On a phone, by keyboard: the password is removed.
    const phone = await newPage(suite.browser, PHONE);
    await phone.page.goto(new URL('/shares', suite.server.url).href);
    await signIn(phone.page, owner.user);
    const phoneRow = phone.page.locator('.share').first();
    await expect.poll(() => phoneRow.textContent()).toContain('Password');
    await phoneRow.getByRole('button', { name: 'Change the link to 2 photos' }).focus();
    await phone.page.keyboard.press('Enter');
    const phoneChange = phone.page.getByRole('dialog', { name: 'Change the link to 2 photos' });
    // Visible once open: the dialog has put the focus on its first field by then.
    await phoneChange.waitFor();
    await phoneChange.getByLabel('Keep the password').focus();
    // Arrow keys move through a radio group and choose as they go.
    await phone.page.keyboard.press('ArrowDown');
    await phone.page.keyboard.press('ArrowDown');
    await expect.poll(() => phoneChange.getByLabel('Remove the password').isChecked()).toBe(true);
    expect(await horizontalOverflow(phone.page)).toBe(0);
    await screenshot(phone.page, 'share-edit-phone');
    expect(await accessibilityProblems(phone.page)).toEqual([]);
    await phoneChange.getByRole('button', { name: 'Save changes' }).focus();
    await phone.page.keyboard.press('Enter');
    await phoneChange.waitFor({ state: 'detached' });
    await expect.poll(() => phoneRow.textContent()).not.toContain('Password');
    expect(await phoneRow.textContent()).toContain('Expires in 1 day');

    // It opens directly now, in another fresh context.
    const open = await newPage(suite.browser, PHONE);
    await open.page.goto(link);
    await expect.poll(() => open.page.locator('.thumb').count()).toBe(2);
    expect(await open.page.getByRole('heading', { name: 'These photos are protected' }).count()).toBe(0);

    // A link revoked meanwhile (elsewhere) cannot be changed: the server's reason is shown in the dialog.
    const revoked = await apiClient(suite.server.url).request<{ items: { id: string }[] }>('GET', '/api/v1/shares', {
      token: owner.user.token,
    });
    const id = revoked.body.items[0]?.id ?? '';
    expect(
      (await apiClient(suite.server.url).request('DELETE', `/api/v1/shares/${id}`, { token: owner.user.token })).status,
    ).toBe(204);
    await row.getByRole('button', { name: 'Change the link to 2 photos' }).click();
    await change.getByText('Never', { exact: true }).click();
    await change.getByRole('button', { name: 'Save changes' }).click();
    await change.getByRole('alert').getByText('Share link not found.').waitFor();
    await change.getByRole('button', { name: 'Cancel' }).click();

    // The 404 of the change to a revoked link was provoked on purpose.
    expect(owner.problems.filter((problem) => !/status of 404/.test(problem))).toEqual([]);
    expect(phone.problems).toEqual([]);
    expect(open.problems).toEqual([]);
    for (const context of [owner.context, phone.context, open.context]) await context.close();
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

  test('a shared video plays for a visitor without an account, with its badge in the grid', async () => {
    const client = apiClient(suite.server.url);
    const owner = await signedUpUser(client, 'filmer');
    const data = await makeMp4WithLocation({ apple: true });
    const uploaded = await client.upload(owner.token, [{ name: 'holiday.mov', data, type: 'video/quicktime' }]);
    expect(uploaded.status).toBe(201);
    const created = await client.request<{ url: string }>('POST', '/api/v1/shares', {
      token: owner.token,
      // Playing is viewing: it works on a link that allows no downloads.
      json: { imageIds: [uploaded.body.images[0]?.id], allowDownload: false },
    });
    expect(created.status).toBe(201);

    const visitor = await newPage(suite.browser, DESKTOP);
    await visitor.page.goto(new URL(created.body.url, suite.server.url).href);
    const thumb = visitor.page.locator('.thumb');
    await expect.poll(() => thumb.count()).toBe(1);
    await expect.poll(() => thumb.locator('.badge').textContent()).toContain('0:02');
    expect(await thumb.getAttribute('aria-label')).toBe('Video 1 of 1');
    expect(await visitor.page.locator('.intro .meta').textContent()).toContain('1 video');
    await waitForImages(visitor.page, '.thumb img');
    await screenshot(visitor.page, 'shared-video-grid-desktop');

    await thumb.click();
    const viewer = visitor.page.getByRole('dialog', { name: 'Photo viewer' });
    const player = viewer.locator('video.player');
    await player.waitFor();
    expect(await player.getAttribute('src')).toMatch(/\/playback\?exp=/);
    expect(await player.getAttribute('poster')).toMatch(/\/preview\?exp=/);
    expect(await player.getAttribute('controls')).not.toBeNull();
    await expectPlayable(player, 2);
    await screenshot(visitor.page, 'shared-video-lightbox-desktop');
    expect(await accessibilityProblems(visitor.page)).toEqual([]);
    expect(visitor.problems).toEqual([]);
    await visitor.context.close();
  });
});
