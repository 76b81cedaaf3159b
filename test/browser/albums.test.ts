import { readFile } from 'node:fs/promises';

import { expect, test } from 'vitest';

import { browserSuite, describeInBrowser, DESKTOP, newPage, PHONE, screenshot } from './browser.js';
import { horizontalOverflow, signIn, thumbnailNames, waitForThumbnails } from './gallery-page.js';
import { accessibilityProblems, signedInWithPhotos, nav, waitForImages, where } from './library.js';

describeInBrowser('web UI › albums and favourites', () => {
  const suite = browserSuite({ server: {} });

  test('an album is made, filled from a month and the viewer, renamed, given a cover and deleted', async () => {
    const { page, problems, context, user } = await signedInWithPhotos(suite.browser, suite.server.url, DESKTOP, 5);

    // A new album from the albums page opens on its own URL.
    await nav(page, 'Albums').click();
    expect(where(page)).toBe('/albums');
    await page.getByText('No albums yet').waitFor();
    await page.getByRole('button', { name: 'New album' }).click();
    const create = page.getByRole('dialog', { name: 'New album' });
    await create.getByLabel('Name').fill('Lisbon');
    await create.getByRole('button', { name: 'Create album' }).click();
    await page.getByRole('heading', { name: 'Lisbon' }).waitFor();
    expect(where(page)).toMatch(/^\/albums\/[^/]+$/);
    const albumPath = where(page);
    await page.getByText('This album is empty').waitFor();

    // A whole month is selected at once and added to the album.
    await nav(page, 'Photos').click();
    expect(where(page)).toBe('/');
    await waitForThumbnails(page, 5);
    await page.getByRole('button', { name: 'Select', exact: true }).click();
    await page.getByRole('button', { name: 'Select June 2024' }).click();
    const bar = page.getByRole('region', { name: 'Selection' });
    await expect.poll(() => bar.locator('.count').textContent()).toContain('2 selected');
    await bar.getByRole('button', { name: 'Add to album' }).click();
    await page
      .getByRole('dialog', { name: 'Add 2 photos to an album' })
      .getByRole('button', { name: /Lisbon/ })
      .click();
    await page.getByText('Added to “Lisbon”').waitFor();

    // A ZIP of a selection downloads as a stream (the download worker), not through the page's memory.
    await page.getByRole('button', { name: 'Select photo-3.jpg' }).click();
    await page.getByRole('button', { name: 'Select photo-4.jpg' }).click();
    const [zip] = await Promise.all([
      page.waitForEvent('download'),
      bar.getByRole('button', { name: 'Download ZIP' }).click(),
    ]);
    expect(zip.suggestedFilename()).toMatch(/\.zip$/);
    const bytes = await readFile(await zip.path());
    expect(bytes.subarray(0, 2).toString('latin1')).toBe('PK');
    await page.keyboard.press('Escape');
    await bar.waitFor({ state: 'detached' });

    // The viewer marks a favourite; the open photo is part of the URL through reload, back and forward.
    await page.locator('.tile').nth(2).click();
    const viewer = page.getByRole('dialog', { name: 'Photo viewer' });
    await viewer.locator('img.preview.loaded').waitFor();
    const favourite = viewer.getByRole('button', { name: 'Favourite' });
    await favourite.click();
    await expect.poll(() => favourite.getAttribute('aria-pressed')).toBe('true');
    expect(where(page)).toMatch(/^\/\?photo=/);
    const photoUrl = where(page);
    await page.reload();
    await viewer.locator('img.preview.loaded').waitFor();
    expect(await viewer.getByRole('button', { name: 'Favourite' }).getAttribute('aria-pressed')).toBe('true');
    await page.goBack();
    await viewer.waitFor({ state: 'detached' });
    expect(where(page)).toBe('/');
    await page.goForward();
    await viewer.locator('img.preview.loaded').waitFor();
    expect(where(page)).toBe(photoUrl);
    await page.keyboard.press('Escape');
    await viewer.waitFor({ state: 'detached' });

    await nav(page, 'Favourites').click();
    await waitForThumbnails(page, 1);
    expect(await thumbnailNames(page)).toEqual(['photo-2.jpg']);

    // The albums page shows the album with its count and months.
    await nav(page, 'Albums').click();
    const card = page.getByRole('link', { name: /Lisbon/ });
    await expect.poll(() => card.textContent()).toMatch(/2\s+photos\s*·\s*Jun 2024/);
    await waitForImages(page, '.cover img');
    await screenshot(page, 'albums-desktop');
    expect(await accessibilityProblems(page)).toEqual([]);

    // In the album: the second photo becomes the cover; the album is renamed and described.
    await card.click();
    expect(where(page)).toBe(albumPath);
    await waitForThumbnails(page, 2);
    await page.locator('.tile').nth(1).click();
    await viewer.getByRole('button', { name: 'Use as album cover' }).click();
    await page.getByText('Album cover chosen').waitFor();
    await page.keyboard.press('Escape');
    await viewer.waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Rename' }).click();
    const rename = page.getByRole('dialog', { name: 'Rename album' });
    await rename.getByLabel('Name').fill('Lisbon in June');
    await rename.getByLabel('Description (optional)').fill('Trams, tiles and the river.');
    await rename.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('heading', { name: 'Lisbon in June' }).waitFor();
    await page.reload();
    await page.getByText('Trams, tiles and the river.').waitFor();
    await waitForThumbnails(page, 2);
    await screenshot(page, 'album-desktop');
    expect(await accessibilityProblems(page)).toEqual([]);

    // The same screens at phone width.
    const phone = await newPage(suite.browser, PHONE);
    await phone.page.goto(new URL('/albums', suite.server.url).href);
    await signIn(phone.page, user);
    await phone.page.getByRole('link', { name: /Lisbon in June/ }).waitFor();
    await waitForImages(phone.page, '.cover img');
    expect(await horizontalOverflow(phone.page)).toBe(0);
    await screenshot(phone.page, 'albums-phone');
    await phone.page.getByRole('link', { name: /Lisbon in June/ }).click();
    await waitForThumbnails(phone.page, 2);
    expect(await horizontalOverflow(phone.page)).toBe(0);
    await screenshot(phone.page, 'album-phone');
    await phone.page.getByRole('button', { name: 'Select', exact: true }).click();
    await phone.page.getByRole('button', { name: 'Select photo-0.jpg' }).click();
    expect(await horizontalOverflow(phone.page)).toBe(0);
    await screenshot(phone.page, 'select-phone');
    await phone.context.close();

    // Deleting the album keeps its photos; Back returns to the albums, not to the deleted album.
    await page.getByRole('button', { name: 'Delete album' }).click();
    await page
      .getByRole('dialog', { name: 'Delete this album?' })
      .getByRole('button', { name: 'Delete album' })
      .click();
    await page.getByText('No albums yet').waitFor();
    expect(where(page)).toBe('/albums');
    await nav(page, 'Photos').click();
    await waitForThumbnails(page, 5);

    expect(problems).toEqual([]);
    await context.close();
  });
});
