import { expect, test } from 'vitest';

import { browserSuite, describeInBrowser, DESKTOP, newPage, PHONE, screenshot } from './browser.js';
import { horizontalOverflow, signIn, thumbnailNames, waitForThumbnails } from './gallery-page.js';
import { accessibilityProblems, signedInWithPhotos, nav, waitForImages, where } from './library.js';

describeInBrowser('web UI › trash', () => {
  const suite = browserSuite({ server: {} });

  test('photos moved to the trash are restored, deleted for good, and the trash emptied', async () => {
    const { page, problems, context, user } = await signedInWithPhotos(suite.browser, suite.server.url, DESKTOP, 4);

    // Two photos chosen with click and shift-click go to the trash together.
    await page.getByRole('button', { name: 'Select photo-1.jpg' }).click();
    await page.getByRole('button', { name: 'Select photo-2.jpg' }).click({ modifiers: ['Shift'] });
    const bar = page.getByRole('region', { name: 'Selection' });
    await expect.poll(() => bar.locator('.count').textContent()).toContain('2 selected');
    await bar.getByRole('button', { name: 'Move to trash' }).click();
    await page
      .getByRole('dialog', { name: 'Move 2 photos to the trash?' })
      .getByRole('button', { name: 'Move to trash' })
      .click();
    await waitForThumbnails(page, 2);
    expect(await thumbnailNames(page)).toEqual(['photo-0.jpg', 'photo-3.jpg']);
    await expect.poll(() => page.locator('[data-meter=storage]').textContent()).toContain('MB in the trash');

    // The trash lists them with their purge date, and says they still count toward storage.
    await nav(page, 'Trash').click();
    expect(where(page)).toBe('/trash');
    const items = page.locator('[data-trashed]');
    await expect.poll(() => items.count()).toBe(2);
    expect(await items.first().textContent()).toMatch(/Purged on \d{1,2} \w{3} \d{4}/);
    expect(await page.getByTestId('trash-note').textContent()).toContain('still count toward your storage');
    await waitForImages(page, '[data-trashed] img');
    await screenshot(page, 'trash-desktop');
    expect(await accessibilityProblems(page)).toEqual([]);

    // Reload, Back and Forward keep to the right screens.
    await page.reload();
    await expect.poll(() => items.count()).toBe(2);
    await page.goBack();
    await waitForThumbnails(page, 2);
    expect(where(page)).toBe('/');
    await page.goForward();
    await expect.poll(() => items.count()).toBe(2);

    // Restoring brings a photo back to the gallery.
    await page.getByRole('button', { name: 'Restore photo-1.jpg' }).click();
    await page.getByText('Photo restored').waitFor();
    await expect.poll(() => items.count()).toBe(1);
    await nav(page, 'Photos').click();
    await waitForThumbnails(page, 3);
    expect(await thumbnailNames(page)).toEqual(['photo-0.jpg', 'photo-1.jpg', 'photo-3.jpg']);

    // Deleting for good asks first.
    await nav(page, 'Trash').click();
    await page.getByRole('button', { name: 'Delete photo-2.jpg for good' }).click();
    await page
      .getByRole('dialog', { name: 'Delete this photo for good?' })
      .getByRole('button', { name: 'Delete for good' })
      .click();
    await page.getByText('The trash is empty.').waitFor();

    // One more to the trash from the viewer, then the trash is emptied.
    await nav(page, 'Photos').click();
    await waitForThumbnails(page, 3);
    await page.locator('.tile').first().click();
    const viewer = page.getByRole('dialog', { name: 'Photo viewer' });
    await viewer.getByRole('button', { name: 'Move to trash' }).click();
    const confirm = page.getByRole('dialog', { name: 'Move this photo to the trash?' });
    await confirm.getByRole('button', { name: 'Move to trash' }).click();
    // Escape closes the viewer only once the confirmation has gone: before, it would close that.
    await confirm.waitFor({ state: 'detached' });
    await page.keyboard.press('Escape');
    await viewer.waitFor({ state: 'detached' });
    await waitForThumbnails(page, 2);

    const phone = await newPage(suite.browser, PHONE);
    await phone.page.goto(new URL('/trash', suite.server.url).href);
    await signIn(phone.page, user);
    await expect.poll(() => phone.page.locator('[data-trashed]').count()).toBe(1);
    await waitForImages(phone.page, '[data-trashed] img');
    expect(await horizontalOverflow(phone.page)).toBe(0);
    await screenshot(phone.page, 'trash-phone');
    await phone.context.close();

    await nav(page, 'Trash').click();
    await expect.poll(() => items.count()).toBe(1);
    await page.getByRole('button', { name: 'Empty trash' }).click();
    await page.getByRole('dialog', { name: 'Empty the trash?' }).getByRole('button', { name: 'Empty trash' }).click();
    await page.getByText('The trash is empty.').waitFor();
    await expect.poll(() => page.locator('[data-meter=storage]').textContent()).not.toContain('in the trash');

    expect(problems).toEqual([]);
    await context.close();
  });
});
