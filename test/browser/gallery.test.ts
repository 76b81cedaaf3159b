import { readFile } from 'node:fs/promises';

import type { Page } from 'playwright-core';
import { expect, test } from 'vitest';

import { apiClient, newCredentials, signedUpUser } from '../helpers/api.js';
import { makePhoto, sha256 } from '../helpers/photos.js';
import { browserSuite, describeInBrowser, DESKTOP, newPage, PHONE, screenshot } from './browser.js';
import {
  createAccount,
  dropFiles,
  focusedTitle,
  horizontalOverflow,
  loadedPhotos,
  meterBytes,
  monthHeadings,
  scrollToEnd,
  signIn,
  slowUploads,
  thumbnailNames,
  uploadRow,
  waitForPartialProgress,
  waitForThumbnails,
  waitForVisibleThumbnails,
} from './gallery-page.js';

interface TestPhoto {
  name: string;
  type: string;
  data: Buffer;
}

/** Three photos from three different months, one of them a portrait PNG. */
async function threePhotos(): Promise<{ may: TestPhoto; february: TestPhoto; july: TestPhoto }> {
  return {
    may: {
      name: 'beach-may.jpg',
      type: 'image/jpeg',
      data: await makePhoto({ width: 1600, height: 1000, seed: 3, takenAt: '2024:05:11 12:00:00' }),
    },
    february: {
      name: 'forest-february.png',
      type: 'image/png',
      data: await makePhoto({ width: 900, height: 1300, seed: 8, takenAt: '2024:02:03 16:45:10', format: 'png' }),
    },
    july: {
      name: 'harbour-july.jpg',
      type: 'image/jpeg',
      data: await makePhoto({ width: 1500, height: 1000, seed: 13, takenAt: '2023:07:14 09:12:00' }),
    },
  };
}

function asFile(photo: TestPhoto) {
  return { name: photo.name, mimeType: photo.type, buffer: photo.data };
}

describeInBrowser('web UI › gallery', () => {
  const suite = browserSuite({ server: {} });

  test('upload by drop and button, browse in date order, view, download, delete, sign out and in', async () => {
    const { context, page, problems } = await newPage(suite.browser, DESKTOP);
    const photos = await threePhotos();
    const credentials = newCredentials('web');

    await page.goto(suite.server.url);
    await page.getByRole('heading', { name: 'Sign in to Pixa' }).waitFor();
    await screenshot(page, 'signin-desktop');
    await createAccount(page, credentials);
    await page.getByRole('heading', { name: 'Your gallery is empty' }).waitFor();
    await screenshot(page, 'empty-desktop');

    // Two photos dropped onto the page and one chosen with the button; uploads are slowed down so
    // that the panel can be seen mid-way.
    const network = await slowUploads(page);
    await dropFiles(page, [photos.may, photos.july]);
    await page.locator('input[type=file]').setInputFiles([asFile(photos.february)]);
    for (const photo of Object.values(photos)) await uploadRow(page, photo.name).waitFor();
    await waitForPartialProgress(page);
    await screenshot(page, 'upload-desktop');
    await network.restore();
    for (const photo of Object.values(photos)) {
      await uploadRow(page, photo.name).getByText('Uploaded', { exact: true }).waitFor();
    }

    // Newest taken first, grouped by month, without a reload.
    await waitForThumbnails(page, 3);
    expect(await thumbnailNames(page)).toEqual([photos.may.name, photos.february.name, photos.july.name]);
    expect(await monthHeadings(page)).toEqual(['May 2024', 'February 2024', 'July 2023']);
    const storageWithThree = await meterBytes(page, 'Storage');
    expect(storageWithThree).toBeGreaterThan(0);
    await page.getByRole('button', { name: 'Close uploads' }).click();

    // Arrow keys move between thumbnails; Enter opens the lightbox, where they step through the photos.
    await page.locator('.tile').first().focus();
    await page.keyboard.press('ArrowRight');
    expect(await focusedTitle(page)).toBe(photos.february.name);
    await page.keyboard.press('Enter');
    const viewer = page.getByRole('dialog', { name: 'Photo viewer' });
    await viewer.waitFor();
    await expect.poll(() => viewer.locator('h2').textContent()).toBe(photos.february.name);
    await expect.poll(() => viewer.locator('dl').textContent()).toContain('900 × 1300');
    await page.keyboard.press('ArrowRight');
    await expect.poll(() => viewer.locator('h2').textContent()).toBe(photos.july.name);
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('ArrowLeft');
    await expect.poll(() => viewer.locator('h2').textContent()).toBe(photos.may.name);
    await viewer.locator('img.preview.loaded').waitFor();
    await screenshot(page, 'lightbox-desktop');

    // The original comes back byte for byte.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      viewer.getByRole('link', { name: 'Download original' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe(photos.may.name);
    expect(sha256(await readFile(await download.path()))).toBe(sha256(photos.may.data));

    // Moving to the trash asks first, then the viewer moves on.
    await viewer.getByRole('button', { name: 'Move to trash' }).click();
    const confirm = page.getByRole('dialog', { name: 'Move this photo to the trash?' });
    await confirm.getByRole('button', { name: 'Move to trash' }).click();
    await expect.poll(() => viewer.locator('h2').textContent()).toBe(photos.february.name);
    // The trash still counts toward storage until it is purged, and the meter says so.
    await expect.poll(() => page.locator('[data-meter=storage]').textContent()).toContain('MB in the trash');
    expect(await meterBytes(page, 'Storage')).toBe(storageWithThree);
    await page.keyboard.press('Escape');
    await viewer.waitFor({ state: 'detached' });
    expect(await thumbnailNames(page)).toEqual([photos.february.name, photos.july.name]);
    expect(await focusedTitle(page)).toBe(photos.february.name);

    // A file that is not a picture fails on its own with the server's reason; a second copy of a
    // photo is recognised; the rest of the gallery is untouched.
    await page
      .locator('input[type=file]')
      .setInputFiles([
        { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not a photo\n') },
        asFile(photos.july),
      ]);
    const failed = uploadRow(page, 'notes.txt');
    await failed.locator('[role=alert]').waitFor();
    expect((await failed.locator('[role=alert]').textContent())?.trim().length).toBeGreaterThan(5);
    await uploadRow(page, photos.july.name).getByText('Already in your gallery').waitFor();
    // Retrying sends the file again, on its own; it fails the same way and the other row stays as it was.
    const [again] = await Promise.all([
      page.waitForResponse(
        (response) => response.url().endsWith('/api/v1/images') && response.request().method() === 'POST',
      ),
      failed.getByRole('button', { name: 'Retry notes.txt' }).click(),
    ]);
    expect(again.status()).toBe(415);
    await failed.locator('[role=alert]').waitFor();
    await uploadRow(page, photos.july.name).getByText('Already in your gallery').waitFor();
    expect(await thumbnailNames(page)).toEqual([photos.february.name, photos.july.name]);

    // Still signed in after a reload; signing out asks first; signing back in shows the same photos.
    await page.reload();
    await waitForThumbnails(page, 2);
    await page.getByRole('button', { name: 'Account menu' }).click();
    await page.getByRole('menuitem', { name: 'Sign out' }).click();
    await page.getByRole('dialog', { name: 'Sign out of Pixa?' }).getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You have signed out.').waitFor();
    await page.getByLabel('Username').fill(credentials.username);
    await page.getByLabel('Password', { exact: true }).fill(credentials.password);
    await page.locator('form').getByRole('button', { name: 'Sign in' }).click();
    await waitForThumbnails(page, 2);
    expect(await thumbnailNames(page)).toEqual([photos.february.name, photos.july.name]);

    expect(problems).toEqual([]);
    await context.close();
  });

  test('a delete the server refuses is explained in the confirmation, and can be tried again', async () => {
    const { context, page } = await newPage(suite.browser, DESKTOP);
    const photos = await threePhotos();
    await page.goto(suite.server.url);
    await createAccount(page, newCredentials('refused'));
    await page.locator('input[type=file]').setInputFiles([asFile(photos.may)]);
    await waitForThumbnails(page, 1);
    await page.locator('.tile').first().click();
    const viewer = page.getByRole('dialog', { name: 'Photo viewer' });
    await viewer.waitFor();

    const refusal = { error: { code: 'service_unavailable', message: 'Photo storage is unavailable right now.' } };
    await page.route('**/api/v1/images/*', (route) =>
      route.request().method() === 'DELETE' ? route.fulfill({ status: 503, json: refusal }) : route.fallback(),
    );
    await viewer.getByRole('button', { name: 'Move to trash' }).click();
    const confirm = page.getByRole('dialog', { name: 'Move this photo to the trash?' });
    await confirm.getByRole('button', { name: 'Move to trash' }).click();
    await expect.poll(() => confirm.getByRole('alert').textContent()).toBe(refusal.error.message);
    expect(await thumbnailNames(page)).toEqual([photos.may.name]);

    await page.unroute('**/api/v1/images/*');
    await confirm.getByRole('button', { name: 'Move to trash' }).click();
    await page.getByRole('heading', { name: 'Your gallery is empty' }).waitFor();
    await context.close();
  });

  test('a long gallery loads page by page and keeps only the rows near the screen in the page', async () => {
    const client = apiClient(suite.server.url);
    const user = await signedUpUser(client, 'long');
    const total = 150;
    const shapes = [
      [1200, 800],
      [800, 1200],
      [1000, 1000],
      [1600, 900],
      [900, 1350],
      [1400, 1000],
    ] as const;
    const uploads = Array.from({ length: total }, (_, index) => async () => {
      const [width, height] = shapes[index % shapes.length] ?? [1200, 800];
      // Newest first: one photo every two days, going back about ten months from Christmas 2024.
      const taken = new Date(Date.UTC(2024, 11, 24, 10, 30) - index * 2 * 86_400_000);
      const data = await makePhoto({ width: width / 2, height: height / 2, seed: index + 1, takenAt: exifDate(taken) });
      const response = await client.upload(user.token, [{ name: `photo-${index}.jpg`, data, type: 'image/jpeg' }]);
      if (response.status !== 201) throw new Error(`upload ${index} failed: ${response.status}`);
    });
    await inParallel(uploads, 6);

    const { context, page, problems } = await newPage(suite.browser, DESKTOP);
    await page.goto(suite.server.url);
    await signIn(page, user);
    await waitForVisibleThumbnails(page);
    await screenshot(page, 'gallery-desktop');

    // The first screenful came from the first page; the grid holds far fewer tiles than photos.
    expect(await loadedPhotos(page)).toBeLessThan(total);
    expect(await thumbnailNames(page)).toContain('photo-0.jpg');

    await scrollToEnd(page, total);
    await page.locator('[title="photo-149.jpg"]').waitFor();
    const rendered = await page.locator('.tile').count();
    expect(rendered).toBeGreaterThan(0);
    expect(rendered).toBeLessThan(total / 2);
    expect(await thumbnailNames(page)).not.toContain('photo-0.jpg');
    const headings = await monthHeadings(page);
    expect(headings.at(-1)).toBe('March 2024');

    // The same gallery at phone width, signed in on another device.
    const phone = await newPage(suite.browser, PHONE);
    await phone.page.goto(suite.server.url);
    await signIn(phone.page, user);
    await waitForVisibleThumbnails(phone.page);
    await screenshot(phone.page, 'gallery-phone');
    expect(await horizontalOverflow(phone.page)).toBe(0);

    expect(problems).toEqual([]);
    expect(phone.problems).toEqual([]);
    await context.close();
    await phone.context.close();
  });

  test('at 375 px wide everything fits, and a swipe moves through the photos', async () => {
    const { context, page, problems } = await newPage(suite.browser, PHONE);
    const photos = await threePhotos();

    await page.goto(suite.server.url);
    await page.getByRole('heading', { name: 'Sign in to Pixa' }).waitFor();
    await screenshot(page, 'signin-phone');
    await createAccount(page, newCredentials('phone'));
    await page.getByRole('heading', { name: 'Your gallery is empty' }).waitFor();

    const network = await slowUploads(page);
    await page.locator('input[type=file]').setInputFiles(Object.values(photos).map(asFile));
    await waitForPartialProgress(page);
    await screenshot(page, 'upload-phone');
    await network.restore();
    await waitForThumbnails(page, 3);
    await page.getByRole('button', { name: 'Close uploads' }).click();
    expect(await horizontalOverflow(page)).toBe(0);

    await page.locator('.tile').first().click();
    const viewer = page.getByRole('dialog', { name: 'Photo viewer' });
    await viewer.locator('img.preview.loaded').waitFor();
    await screenshot(page, 'lightbox-phone');
    await swipe(page, -150);
    await expect.poll(() => viewer.locator('h2').textContent()).toBe(photos.february.name);
    await swipe(page, 150);
    await expect.poll(() => viewer.locator('h2').textContent()).toBe(photos.may.name);
    await viewer.getByRole('button', { name: 'Close viewer' }).click();

    expect(problems).toEqual([]);
    await context.close();
  });
});

/** EXIF's date format: `2024:05:11 12:00:00`. */
function exifDate(date: Date): string {
  return date.toISOString().slice(0, 19).replace('T', ' ').replace(/-/g, ':');
}

/** Runs the tasks with at most `limit` at a time. */
async function inParallel(tasks: (() => Promise<void>)[], limit: number): Promise<void> {
  const queue = [...tasks];
  const workers = Array.from({ length: limit }, async () => {
    for (let task = queue.shift(); task; task = queue.shift()) await task();
  });
  await Promise.all(workers);
}

/** A horizontal drag across the middle of the viewer, as a finger would make it. */
async function swipe(page: Page, dx: number): Promise<void> {
  const box = await page.locator('.stage').boundingBox();
  if (!box) throw new Error('viewer stage is not visible');
  const y = box.y + box.height / 2;
  const x = box.x + box.width / 2 - dx / 2;
  await page.mouse.move(x, y);
  await page.mouse.down();
  await page.mouse.move(x + dx / 2, y, { steps: 4 });
  await page.mouse.move(x + dx, y, { steps: 4 });
  await page.mouse.up();
}
