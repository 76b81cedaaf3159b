import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, ConsoleMessage, Page } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHROMIUM = '/usr/bin/chromium';

/** Why the browser suites cannot run here, or null when they can. Printed by the suites that skip. */
export function browserSkipReason(): string | null {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is missing (apt-get install -y chromium)`;
  return null;
}

/** Builds web/dist when a source changed since the last build (a no-op under `npm test`, which built it). */
export function ensureWebBuilt(): void {
  const result = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-web.js')], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`web build failed:\n${result.stdout}\n${result.stderr}`);
}

export interface TestBrowser {
  browser: Browser;
  close(): Promise<void>;
}

/** Debian's Chromium, headless. Playwright gives every launch a fresh temporary profile and removes it on close. */
export async function launchBrowser(): Promise<TestBrowser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    browser,
    close: () => browser.close(),
  };
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 375, height: 740 };

export async function newPage(
  browser: Browser,
  viewport: { width: number; height: number },
): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const phone = viewport.width < 500;
  const context = await browser.newContext({
    viewport,
    deviceScaleFactor: phone ? 2 : 1,
    isMobile: phone,
    hasTouch: phone,
    acceptDownloads: true,
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  const page = await context.newPage();
  return { context, page, problems: watchConsole(page) };
}

/**
 * Collects console errors and uncaught exceptions. Chromium also logs every non-2xx response as
 * "Failed to load resource"; those the test provoked on purpose (a wrong password, a non-image) are
 * expected, so only API answers with the statuses in `expected` are let through.
 */
export function watchConsole(page: Page, expected: RegExp = /status of (401|409|415|429)\b/): string[] {
  const problems: string[] = [];
  page.on('console', (message: ConsoleMessage) => {
    if (message.type() !== 'error') return;
    const text = message.text();
    const url = message.location().url;
    if (text.startsWith('Failed to load resource') && url.includes('/api/v1/') && expected.test(text)) return;
    problems.push(`${text} (${url})`);
  });
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  return problems;
}

/**
 * Saves a screenshot to test-results/screenshots, and also to docs/screenshots (committed) when
 * PIXA_UPDATE_SCREENSHOTS=1, so that ordinary test runs leave the working tree alone.
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  const targets = [path.join(ROOT, 'test-results', 'screenshots')];
  if (process.env.PIXA_UPDATE_SCREENSHOTS === '1') targets.push(path.join(ROOT, 'docs', 'screenshots'));
  const image = await page.screenshot({ animations: 'disabled', caret: 'hide' });
  for (const dir of targets) {
    mkdirSync(dir, { recursive: true });
    await writeFile(path.join(dir, `${name}.png`), image);
  }
}
