/**
 * A headless Chromium for the live view's tests: the system's browser
 * (Debian's `chromium`), driven by playwright-core, which downloads none.
 *
 * Without a browser the browser tests skip, saying what to install — unless
 * `TIDEMARK_REQUIRE_BROWSER=1` (set by `.ci/run`), where a missing browser
 * fails them.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

/** The browser to drive: `TIDEMARK_CHROMIUM`, or the first system Chromium found. */
export const chromiumPath: string | null = process.env['TIDEMARK_CHROMIUM'] ?? CANDIDATES.find((p) => existsSync(p)) ?? null;

const required = process.env['TIDEMARK_REQUIRE_BROWSER'] === '1';

/** A tap `skip` option: the reason to skip, or false to run. */
export const browserSkip: string | false =
  chromiumPath !== null || required
    ? false
    : 'no Chromium found: install Debian\'s chromium (apt-get install -y chromium) or set TIDEMARK_CHROMIUM to a Chrome/Chromium binary';

/**
 * Launches headless Chromium. Playwright gives it a fresh temporary profile
 * (its own --user-data-dir) and --no-sandbox (running as root here); the
 * other flags keep it off the network this machine does not have.
 */
export async function launchBrowser(): Promise<Browser> {
  if (chromiumPath === null) {
    throw new Error('TIDEMARK_REQUIRE_BROWSER=1 but no Chromium found: install it (apt-get install -y chromium) or set TIDEMARK_CHROMIUM');
  }
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    timeout: 60_000,
    args: ['--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/** What a page did that a test must see: dialogs (dismissed), script errors, console errors. */
export interface PageWatch {
  readonly dialogs: string[];
  readonly errors: string[];
}

/** Opens a page that records dialogs and errors. */
export async function openPage(browser: Browser): Promise<{ page: Page; watch: PageWatch }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.setDefaultTimeout(30_000);
  const watch: PageWatch = { dialogs: [], errors: [] };
  page.on('dialog', (dialog) => {
    watch.dialogs.push(dialog.message());
    void dialog.dismiss().catch(() => undefined);
  });
  page.on('pageerror', (err) => watch.errors.push(err.message));
  page.on('console', (message) => {
    // EventSource reports a dropped connection as a console error when a test stops the server.
    if (message.type() === 'error' && !/EventSource|net::ERR_/.test(message.text())) watch.errors.push(message.text());
  });
  return { page, watch };
}

/** Waits (bounded by the page's default timeout) until the page shows `batchId` as the selected query's latest batch. */
export async function waitForBatch(page: Page, batchId: number): Promise<void> {
  await page.locator(`#latest-heading[data-batch-id="${batchId}"]`).waitFor();
}
