/**
 * A headless Chromium for tests that must see a page rendered (the HTML report). Uses the
 * system's Chromium (Debian's `chromium`; `.ci/run` installs it when it can) through
 * playwright-core, which downloads nothing. When no browser is found, or it does not start,
 * `withBrowser` logs why and passes, so the suite stays green on machines without one.
 */
import { existsSync } from 'node:fs';
import type { ExecutionContext } from 'ava';
import type { Browser } from 'playwright-core';

const CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
  '/snap/bin/chromium',
];

/** Path of a Chromium binary: $CHROMIUM_PATH, else the usual system locations; undefined if none. */
export function findChromium(): string | undefined {
  const env = process.env['CHROMIUM_PATH'];
  if (env && existsSync(env)) return env;
  return CANDIDATES.find((p) => existsSync(p));
}

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/**
 * Runs `f` with a launched browser, closing it afterwards. Without a usable Chromium the test
 * logs the reason and passes (nothing is asserted).
 */
export async function withBrowser(t: ExecutionContext, f: (browser: Browser) => Promise<void>): Promise<void> {
  const executablePath = findChromium();
  if (!executablePath) {
    t.log('SKIPPED: no Chromium found (set CHROMIUM_PATH or install Debian\'s `chromium`); browser checks not run');
    t.pass();
    return;
  }
  let chromium: typeof import('playwright-core').chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    t.log(`SKIPPED: playwright-core not installed (${(e as Error).message})`);
    t.pass();
    return;
  }
  let browser: Browser;
  try {
    browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS, timeout: 60_000 });
  } catch (e) {
    t.log(`SKIPPED: Chromium at ${executablePath} did not start: ${(e as Error).message.split('\n')[0]}`);
    t.pass();
    return;
  }
  try {
    await f(browser);
  } finally {
    await browser.close().catch(() => {});
  }
}
