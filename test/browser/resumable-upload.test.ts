import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import sharp from 'sharp';
import { beforeAll, expect, test } from 'vitest';

import { apiClient, signedUpUser } from '../helpers/api.js';
import { browserSuite, describeInBrowser, DESKTOP, newPage } from './browser.js';
import { signIn, slowUploads, uploadRow, waitForPartialProgress, waitForThumbnails } from './gallery-page.js';

/** A real photo of about 9.7 MB: noise hardly compresses, so it goes over the 8 MB resumable threshold. */
function bigPhoto(): Promise<Buffer> {
  return sharp({
    create: {
      width: 3200,
      height: 3200,
      channels: 3,
      background: '#808080',
      noise: { type: 'gaussian', mean: 128, sigma: 60 },
    },
  })
    .jpeg({ quality: 95 })
    .toBuffer();
}

/** Console errors other than the failed requests the test caused by cutting the network or by the quota. */
function unexpected(problems: string[]): string[] {
  return problems.filter(
    (problem) => !/ERR_(FAILED|INTERNET_DISCONNECTED|NETWORK_CHANGED)|status of 41[03]\b/.test(problem),
  );
}

describeInBrowser('web UI › resumable uploads', () => {
  const suite = browserSuite({
    roomy: { PIXA_STORAGE_QUOTA_MB: '200', PIXA_DAILY_TRANSFER_MB: '0' },
    small: { PIXA_STORAGE_QUOTA_MB: '5' },
  });
  let photo: Buffer;
  /** The same photo as a file on disk: picking it again gives the browser the same file (name, size, date). */
  let photoFile: string;

  beforeAll(async () => {
    photo = await bigPhoto();
    expect(photo.length).toBeGreaterThan(8 * 1024 * 1024);
    const dir = await mkdtemp(path.join(tmpdir(), 'pixa-resumable-'));
    photoFile = path.join(dir, 'later.jpg');
    await writeFile(photoFile, photo);
    return () => rm(dir, { recursive: true, force: true });
  });

  test('a large photo goes up in chunks, resumes by itself after the connection drops, and arrives once', async () => {
    const client = apiClient(suite.roomy.url);
    const user = await signedUpUser(client, 'tus');
    const { context, page, problems } = await newPage(suite.browser, DESKTOP);
    const patches: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'PATCH' && request.url().includes('/api/v1/uploads/')) patches.push(request.url());
    });
    await page.goto(suite.roomy.url);
    await signIn(page, user);

    const slow = await slowUploads(page, 1024 * 1024);
    await page.locator('input[type=file]').setInputFiles([{ name: 'big.jpg', mimeType: 'image/jpeg', buffer: photo }]);
    const row = uploadRow(page, 'big.jpg');
    await waitForPartialProgress(page, 5);
    // Speed and time left appear once the upload has been going for a moment.
    await expect.poll(() => row.textContent(), { timeout: 20_000 }).toMatch(/\/s · [\d:]+ left/);

    // The network goes away mid-chunk, and every attempt to reach the upload fails for a moment.
    await page.route('**/api/v1/uploads/**', (route) => route.abort());
    await context.setOffline(true);
    await page.waitForTimeout(1500);
    await context.setOffline(false);
    await page.unroute('**/api/v1/uploads/**');
    await slow.restore();

    await row.getByText('Uploaded', { exact: true }).waitFor({ timeout: 60_000 });
    await waitForThumbnails(page, 1);
    // More than one chunk went up: the file was sent in pieces, not as one request.
    expect(new Set(patches).size).toBe(1);
    expect(patches.length).toBeGreaterThan(1);

    const listed = await client.list(user.token);
    expect(listed.body.items.map((item) => item.filename)).toEqual(['big.jpg']);
    expect(listed.body.items[0]?.size).toBe(photo.length);
    // The hold became the real charge: nothing stays reserved.
    const usage = await client.usage(user.token);
    expect([usage.body.storage.reservedBytes, usage.body.transfer.reservedBytes]).toEqual([0, 0]);

    expect(unexpected(problems)).toEqual([]);
    await context.close();
  }, 120_000);

  test('after a reload the panel offers to resume the unfinished file, which continues where it stopped', async () => {
    const client = apiClient(suite.roomy.url);
    const user = await signedUpUser(client, 'reload');
    const { context, page, problems } = await newPage(suite.browser, DESKTOP);
    await page.goto(suite.roomy.url);
    await signIn(page, user);

    const slow = await slowUploads(page, 1024 * 1024);
    await page.locator('input[type=file]').setInputFiles([photoFile]);
    // Wait until the first chunk is on the server, then leave the page.
    await page.waitForResponse((response) => response.request().method() === 'PATCH' && response.status() === 204, {
      timeout: 60_000,
    });
    // Still slow, so the rest of the file is not sent before the page goes.
    await page.reload();

    const offered = page.locator('[data-unfinished="later.jpg"]');
    await offered.waitFor();
    const [chooser] = await Promise.all([
      page.waitForEvent('filechooser'),
      offered.getByRole('button', { name: 'Resume' }).click(),
    ]);
    const sent: number[] = [];
    page.on('request', (request) => {
      if (request.method() === 'PATCH') sent.push(Number(request.headers()['upload-offset']));
    });
    await chooser.setFiles([photoFile]);
    await slow.restore();
    await uploadRow(page, 'later.jpg').getByText('Uploaded', { exact: true }).waitFor({ timeout: 60_000 });
    await waitForThumbnails(page, 1);
    // It continued from the first chunk instead of starting again.
    expect(sent[0]).toBeGreaterThan(0);
    await expect.poll(() => offered.count()).toBe(0);

    const listed = await client.list(user.token);
    expect(listed.body.items.map((item) => item.filename)).toEqual(['later.jpg']);
    expect(unexpected(problems)).toEqual([]);
    await context.close();
  }, 120_000);

  test('a file over the storage quota is refused with the reason before any byte is sent', async () => {
    const client = apiClient(suite.small.url);
    const user = await signedUpUser(client, 'tight');
    const { context, page, problems } = await newPage(suite.browser, DESKTOP);
    const patches: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'PATCH') patches.push(request.url());
    });
    await page.goto(suite.small.url);
    await signIn(page, user);

    await page.locator('input[type=file]').setInputFiles([{ name: 'huge.jpg', mimeType: 'image/jpeg', buffer: photo }]);
    const refused = uploadRow(page, 'huge.jpg').locator('[role=alert]');
    await refused.waitFor();
    expect(await refused.textContent()).toMatch(/Storage quota reached/);
    expect(patches).toEqual([]);

    const usage = await client.usage(user.token);
    expect(usage.body.storage.usedBytes).toBe(0);
    expect(usage.body.storage.reservedBytes).toBe(0);
    expect((await client.list(user.token)).body.items).toEqual([]);
    expect(unexpected(problems)).toEqual([]);
    await context.close();
  });
});
