import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

import type { Browser, Locator, Page } from 'playwright-core';
import { expect } from 'vitest';

import { apiClient, signedUpUser } from '../helpers/api.js';
import { makePhoto } from '../helpers/photos.js';
import { newPage } from './browser.js';
import { signIn, waitForVisibleThumbnails } from './gallery-page.js';

declare const axe: {
  run(context: unknown, options: unknown): Promise<{ violations: AxeViolation[] }>;
};
interface ImageElement {
  complete: boolean;
  naturalWidth: number;
}
declare const document: {
  querySelectorAll(selector: string): Iterable<ImageElement> & ArrayLike<ImageElement>;
  getAnimations(): { playState: string }[];
};

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

const require = createRequire(import.meta.url);
let axeSource: Promise<string> | undefined;

/**
 * Runs axe-core in the page and returns its serious and critical findings as readable lines (empty when
 * there are none). Colour contrast of photos' own pixels is not Pixa's to fix, so images are not judged.
 */
export async function accessibilityProblems(page: Page): Promise<string[]> {
  axeSource ??= readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  // axe reads colours as they are drawn: a toast or dialog still fading in has too little contrast.
  await page.waitForFunction(() => document.getAnimations().every((animation) => animation.playState !== 'running'));
  // Evaluated rather than added as a <script>: Pixa's Content-Security-Policy rightly refuses inline scripts.
  await page.evaluate(await axeSource);
  const violations = await page.evaluate(async () => {
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      help: violation.help,
      nodes: violation.nodes.map((node) => JSON.stringify(node.target)),
    }));
  });
  return violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => `${violation.id} (${violation.impact}): ${violation.help} at ${violation.nodes.join(', ')}`);
}

/** Photos of `count` different months, newest first, named `<prefix>-<n>.jpg`. */
export async function uploadPhotos(
  baseUrl: string,
  token: string,
  count: number,
  prefix = 'photo',
): Promise<{ id: string; filename: string }[]> {
  const client = apiClient(baseUrl);
  const uploaded: { id: string; filename: string }[] = [];
  for (let index = 0; index < count; index++) {
    // Two photos a month, going back from June 2024.
    const month = 6 - Math.floor(index / 2);
    const day = 20 - (index % 2) * 10;
    const takenAt = `2024:${String(month).padStart(2, '0')}:${day} 12:00:00`;
    const data = await makePhoto({ width: 900 + index * 20, height: 600, seed: index + 3, takenAt });
    const response = await client.upload(token, [{ name: `${prefix}-${index}.jpg`, data, type: 'image/jpeg' }]);
    const image = response.body.images?.[0];
    if (response.status !== 201 || !image) throw new Error(`upload ${index} failed: ${response.status}`);
    uploaded.push({ id: image.id, filename: image.filename });
  }
  return uploaded;
}

/** A fresh account with `count` photos, signed in in a new browser context at `path`. */
export async function signedInWithPhotos(
  browser: Browser,
  baseUrl: string,
  viewport: { width: number; height: number },
  count: number,
  prefix = 'lib',
) {
  const user = await signedUpUser(apiClient(baseUrl), prefix);
  const photos = await uploadPhotos(baseUrl, user.token, count);
  const opened = await newPage(browser, viewport);
  await opened.page.goto(baseUrl);
  await signIn(opened.page, user);
  if (count > 0) await waitForVisibleThumbnails(opened.page);
  return { user, photos, ...opened };
}

/** The path and query of the page's URL. */
export function where(page: Page): string {
  const url = new URL(page.url());
  return url.pathname + url.search;
}

/** Waits until the page shows images matching `selector` and every one of them has loaded. */
export async function waitForImages(page: Page, selector: string): Promise<void> {
  await page.waitForFunction((css) => {
    const images = [...document.querySelectorAll(css)];
    return images.length > 0 && images.every((image) => image.complete && image.naturalWidth > 0);
  }, selector);
}

/** A link of the library's navigation (Photos, Albums, Favourites, Shared links, Trash). */
export function nav(page: Page, name: string): Locator {
  return page.getByRole('navigation', { name: 'Library' }).getByRole('link', { name, exact: true });
}

/** Waits until the `<video>` has loaded its metadata (a stream the browser can play) and lasts `seconds`. */
export async function expectPlayable(player: Locator, seconds: number): Promise<void> {
  await expect
    .poll(() => player.evaluate((v) => (v as unknown as { readyState: number }).readyState))
    .toBeGreaterThanOrEqual(1);
  await expect
    .poll(() => player.evaluate((v) => Math.round((v as unknown as { duration: number }).duration)))
    .toBe(seconds);
}
