import sharp from 'sharp';
import { expect, test } from 'vitest';

import { apiClient, signedUpUser } from '../helpers/api.js';
import { makePhoto } from '../helpers/photos.js';
import { browserSuite, describeInBrowser, DESKTOP, newPage } from './browser.js';
import { signIn, uploadRow, waitForThumbnails } from './gallery-page.js';

describeInBrowser('web UI › usage meters', () => {
  const suite = browserSuite({
    unlimited: { PIXA_STORAGE_QUOTA_MB: '0', PIXA_DAILY_TRANSFER_MB: '0' },
    tiny: { PIXA_STORAGE_QUOTA_MB: '1' },
  });

  test('a quota of 0 shows as unlimited', async () => {
    const user = await signedUpUser(apiClient(suite.unlimited.url), 'free');
    const { context, page, problems } = await newPage(suite.browser, DESKTOP);
    await page.goto(suite.unlimited.url);
    await signIn(page, user);
    await page
      .locator('input[type=file]')
      .setInputFiles([{ name: 'one.jpg', mimeType: 'image/jpeg', buffer: await makePhoto({ seed: 5 }) }]);
    await waitForThumbnails(page, 1);

    const storage = page.locator('[data-meter=storage]');
    await expect.poll(() => storage.textContent()).toMatch(/Storage:\s*[\d.]+ MB \/ unlimited/);
    expect(await page.locator('[data-meter=usage]').textContent()).toMatch(/Usage:\s*[\d.]+ MB \/ unlimited today/);
    expect(await storage.getAttribute('data-level')).toBe('ok');

    expect(problems).toEqual([]);
    await context.close();
  });

  test('near the storage quota the meter turns to its warning colour, and a photo over it is refused', async () => {
    const client = apiClient(suite.tiny.url);
    const user = await signedUpUser(client, 'full');
    // Noisy photos (they hardly compress) fill the 1 MB in steps of a few per cent, up to 90 % or more.
    for (let seed = 1; seed < 100; seed++) {
      const usage = await client.usage(user.token);
      if (usage.body.storage.usedBytes >= 0.9 * usage.body.storage.quotaBytes) break;
      await client.upload(user.token, [{ name: `noise-${seed}.jpg`, data: await noisyPhoto(200), type: 'image/jpeg' }]);
    }

    const { context, page, problems } = await newPage(suite.browser, DESKTOP);
    await page.goto(suite.tiny.url);
    await signIn(page, user);
    const storage = page.locator('[data-meter=storage]');
    await expect.poll(() => storage.getAttribute('data-level')).toMatch(/^(warn|full)$/);
    expect(await storage.textContent()).toMatch(/Storage:\s*[\d.]+\/1 MB/);

    await page.locator('input[type=file]').setInputFiles([
      {
        name: 'too-big.jpg',
        mimeType: 'image/jpeg',
        buffer: await noisyPhoto(800),
      },
    ]);
    const refused = uploadRow(page, 'too-big.jpg').locator('[role=alert]');
    await refused.waitFor();
    expect(await refused.textContent()).toContain('too-big.jpg');
    await uploadRow(page, 'too-big.jpg').getByRole('button', { name: 'Retry too-big.jpg' }).waitFor();

    expect(problems).toEqual([]);
    await context.close();
  });
});

/** A square JPEG of random noise (sharp draws new noise every time), which hardly compresses. */
function noisyPhoto(side: number): Promise<Buffer> {
  return sharp({
    create: {
      width: side,
      height: side,
      channels: 3,
      background: '#808080',
      noise: { type: 'gaussian', mean: 128, sigma: 60 },
    },
  })
    .jpeg({ quality: 90 })
    .toBuffer();
}
