import { expect, test } from 'vitest';

import { newCredentials } from '../helpers/api.js';
import { makeH264Mp4, makeRotatedHevcMov } from '../helpers/videos.js';
import { browserSuite, describeInBrowser, DESKTOP, newPage, screenshot } from './browser.js';
import { createAccount, dropFiles, waitForThumbnails } from './gallery-page.js';
import { expectPlayable } from './library.js';

describeInBrowser('web UI › videos', () => {
  const suite = browserSuite({ server: {} });

  test('videos › grid shows posters with a duration badge; the lightbox plays them and still navigates', async () => {
    const { context, page, problems } = await newPage(suite.browser, DESKTOP);
    const [h264, hevc] = await Promise.all([makeH264Mp4(), makeRotatedHevcMov()]);

    await page.goto(suite.server.url);
    await createAccount(page, newCredentials('video'));
    await dropFiles(page, [
      { name: 'clip.mp4', type: 'video/mp4', data: h264 },
      { name: 'IMG_0001.MOV', type: 'video/quicktime', data: hevc },
    ]);

    // Probing and the poster frames take a while on a busy machine.
    await page.getByText('2 uploads complete').waitFor({ timeout: 90_000 });
    await waitForThumbnails(page, 2);
    await expect.poll(() => page.locator('.tile .badge').allTextContents()).toEqual(['0:02', '0:02']);
    await page.getByRole('button', { name: 'Close uploads' }).click();
    await screenshot(page, 'video-grid-desktop');

    // The H.264 original plays as uploaded, with native controls.
    await page.locator('.tile[title="clip.mp4"]').click();
    const viewer = page.getByRole('dialog', { name: 'Photo viewer' });
    await viewer.waitFor();
    const player = viewer.locator('video.player');
    await player.waitFor();
    expect(await player.getAttribute('src')).toContain('/original?');
    expect(await player.getAttribute('controls')).not.toBeNull();
    await expectPlayable(player, 2);
    await screenshot(page, 'video-lightbox-desktop');

    // Arrow keys still move to the other video: the HEVC one plays from the original if this browser
    // can play HEVC, else from the H.264 copy once the background job made it.
    // clip.mp4 was recorded in 2024, the MOV in 2023: the MOV is next.
    await page.keyboard.press('ArrowRight');
    await expect.poll(() => viewer.locator('h2').textContent()).toBe('IMG_0001.MOV');
    await expect
      .poll(() => viewer.locator('video.player').getAttribute('src'), { timeout: 60_000, interval: 500 })
      .toMatch(/\/(original|playback)\?/);

    expect(problems).toEqual([]);
    await context.close();
    // Room for the waits above (90 s for probing and posters, 60 s for the playback copy) on a busy machine.
  }, 240_000);
});
