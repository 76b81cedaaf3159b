import type { Locator, Page } from 'playwright-core';

/*
 * The browser's own classes, declared for the functions that Playwright runs inside the page (this
 * project's TypeScript setup has no DOM library).
 */
interface PageElement {
  getAttribute(name: string): string | null;
}
declare const document: {
  querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>;
  activeElement: PageElement | null;
  documentElement: { scrollWidth: number; scrollHeight: number; clientWidth: number };
};
declare const window: { scrollTo(x: number, y: number): void };
declare const localStorage: { getItem(key: string): string | null };
declare const DataTransfer: new () => { items: { add(file: unknown): unknown } };
declare const File: new (parts: unknown[], name: string, options: { type: string }) => unknown;

/** Fills in and sends the "Create account" form. */
export async function createAccount(page: Page, credentials: { username: string; password: string }): Promise<void> {
  await page
    .getByRole('group', { name: 'Sign in or create an account' })
    .getByRole('button', { name: 'Create account' })
    .click();
  await page.getByLabel('Username').fill(credentials.username);
  await page.getByLabel('Password', { exact: true }).fill(credentials.password);
  await page.locator('form').getByRole('button', { name: 'Create account' }).click();
}

/** Fills in and sends the "Sign in" form. */
export async function signIn(page: Page, credentials: { username: string; password: string }): Promise<void> {
  await page.getByLabel('Username').fill(credentials.username);
  await page.getByLabel('Password', { exact: true }).fill(credentials.password);
  await page.locator('form').getByRole('button', { name: 'Sign in' }).click();
}

/** Drops files onto the page the way a file manager does: dragenter, dragover, drop with a DataTransfer. */
export async function dropFiles(page: Page, files: { name: string; type: string; data: Buffer }[]): Promise<void> {
  const payload = files.map((file) => ({ name: file.name, type: file.type, base64: file.data.toString('base64') }));
  const dataTransfer = await page.evaluateHandle((list) => {
    const transfer = new DataTransfer();
    for (const file of list) {
      const bytes = Uint8Array.from(atob(file.base64), (char) => char.charCodeAt(0));
      transfer.items.add(new File([bytes], file.name, { type: file.type }));
    }
    return transfer;
  }, payload);
  for (const type of ['dragenter', 'dragover', 'drop']) await page.dispatchEvent('main', type, { dataTransfer });
  await dataTransfer.dispose();
}

/**
 * Throttles uploads with Chromium's own network emulation so that progress can be watched. Nothing
 * is faked: the requests still reach the real server, only more slowly.
 */
export async function slowUploads(page: Page, bytesPerSecond = 96 * 1024): Promise<{ restore(): Promise<void> }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: bytesPerSecond,
  });
  return {
    async restore() {
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 0,
        downloadThroughput: -1,
        uploadThroughput: -1,
      });
      await cdp.detach();
    },
  };
}

/** The upload panel's row for one file. */
export function uploadRow(page: Page, filename: string): Locator {
  return page.locator(`[data-upload="${filename}"]`);
}

/** Waits until exactly `count` thumbnails are in the grid and have loaded. */
export async function waitForThumbnails(page: Page, count: number): Promise<void> {
  await page.waitForFunction(
    (expected) =>
      document.querySelectorAll('.tile').length === expected &&
      document.querySelectorAll('.tile img.loaded').length === expected,
    count,
  );
}

/** Waits until the grid shows thumbnails and every one of them has loaded. */
export async function waitForVisibleThumbnails(page: Page): Promise<void> {
  await page.waitForFunction(
    () =>
      document.querySelectorAll('.tile').length > 0 && document.querySelectorAll('.tile img:not(.loaded)').length === 0,
  );
}

/** File names of the thumbnails in the order the grid shows them. */
export function thumbnailNames(page: Page): Promise<string[]> {
  return page.locator('.tile').evaluateAll((tiles) => tiles.map((tile) => tile.getAttribute('title') ?? ''));
}

/** Month headings of the grid, top to bottom. */
export function monthHeadings(page: Page): Promise<string[]> {
  return page.locator('.month .label').allTextContents();
}

/** Bytes a meter in the top bar shows as used. */
export async function meterBytes(page: Page, label: 'Storage' | 'Usage'): Promise<number> {
  return Number(await page.getByRole('meter', { name: `${label} used` }).getAttribute('aria-valuenow'));
}

/** Waits until some upload progress bar shows a value strictly between `above` and 100. */
export async function waitForPartialProgress(page: Page, above = 0): Promise<void> {
  await page.waitForFunction(
    (floor) =>
      [...document.querySelectorAll('[role=progressbar]')].some((bar) => {
        const value = Number(bar.getAttribute('aria-valuenow'));
        return value > floor && value < 100;
      }),
    above,
  );
}

/** The title (file name) of the focused thumbnail, if a thumbnail has focus. */
export function focusedTitle(page: Page): Promise<string | null> {
  return page.evaluate(() => document.activeElement?.getAttribute('title') ?? null);
}

/** How many pixels the page is wider than the viewport (0 when nothing sticks out sideways). */
export function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

/** The session the page keeps in localStorage, or null when signed out. */
export async function storedSession(page: Page): Promise<{ token: string } | null> {
  const raw = await page.evaluate(() => localStorage.getItem('pixa.session'));
  return raw === null ? null : (JSON.parse(raw) as { token: string });
}

/** How many photos the gallery has loaded so far (rendered or not). */
export async function loadedPhotos(page: Page): Promise<number> {
  return Number(await page.locator('.grid').getAttribute('data-photos'));
}

/** Scrolls to the end of the page until the gallery has loaded every page of photos. */
export async function scrollToEnd(page: Page, total: number): Promise<void> {
  for (let loaded = await loadedPhotos(page); loaded < total; loaded = await loadedPhotos(page)) {
    await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
    await page.waitForFunction(
      (before) => Number(document.querySelectorAll('.grid')[0]?.getAttribute('data-photos')) > before,
      loaded,
    );
  }
  await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
}
