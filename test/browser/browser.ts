import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, ConsoleMessage, Page } from 'playwright-core';
import { afterAll, beforeAll, describe } from 'vitest';

import { startTestServer, type TestServer } from '../helpers/server.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHROMIUM = '/usr/bin/chromium';

/** Why the browser suites cannot run here, or null when they can. Printed by the suites that skip. */
function browserSkipReason(): string | null {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is missing (apt-get install -y chromium)`;
  return null;
}

/** Builds web/dist when a source changed since the last build (a no-op under `npm test`, which built it). */
export function ensureWebBuilt(): void {
  const result = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-web.js')], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`web build failed:\n${result.stdout}\n${result.stderr}`);
}

/** Debian's Chromium, headless. Playwright gives every launch a fresh temporary profile and removes it on close. */
function launchBrowser(): Promise<Browser> {
  return chromium.launch({
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
}

/**
 * A describe block for a suite that drives Chromium: skipped, with the reason printed once, where
 * Chromium is missing.
 */
export function describeInBrowser(name: string, body: () => void): void {
  const reason = browserSkipReason();
  if (reason) console.warn(`web UI browser tests skipped (${name}): ${reason}`);
  describe.skipIf(reason !== null)(name, body);
}

/** What a browser suite's tests use: Chromium, and the Pixa servers by the names the suite gave them. */
export type BrowserSuite<Name extends string> = { readonly browser: Browser } & {
  readonly [server in Name]: TestServer;
};

/**
 * The set-up every browser suite shares, called inside its describe block: before the first test web/dist
 * is built, one Pixa server is started per entry of `servers` (with those variables) and Chromium is
 * launched, all at once; after the last test they are closed. The fields are there once the tests run.
 */
export function browserSuite<Name extends string>(servers: Record<Name, Record<string, string>>): BrowserSuite<Name> {
  const names = Object.keys(servers) as Name[];
  if ((names as string[]).includes('browser')) throw new Error('"browser" names the browser, not a server');
  const suite: Record<string, unknown> = {};
  let chrome: Browser | undefined;
  const started: TestServer[] = [];

  beforeAll(async () => {
    ensureWebBuilt();
    await Promise.all([
      launchBrowser().then((browser) => {
        chrome = browser;
        suite.browser = browser;
      }),
      ...names.map(async (name) => {
        const server = await startTestServer(servers[name]);
        started.push(server);
        suite[name] = server;
      }),
    ]);
  });

  afterAll(async () => {
    await chrome?.close();
    await Promise.all(started.map((server) => server.close()));
  });

  return suite as BrowserSuite<Name>;
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
