/**
 * A headless Chromium for tests that must see a page rendered (the HTML report). Uses the
 * system's Chromium (Debian's `chromium`; `.ci/run` installs it when it can) through
 * playwright-core, which downloads nothing. A browser test file asks `browserSkipReason()`
 * before declaring its tests (top-level await): without a usable browser they are declared
 * `test.skip` with the reason, never passed without checking anything.
 */
import { existsSync } from 'node:fs';
import type { ExecutionContext } from 'ava';
import type { Browser, Page } from 'playwright-core';

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
 * For pages on tfjs's webgpu backend: Chromium's WebGPU on SwiftShader's Vulkan (software). With
 * `--disable-gpu`, or without Vulkan for the compositor, the adapter exists but tfjs's
 * synchronous reads (`dataSync`, which go through a canvas) return zeros; these flags give
 * correct reads (checked by the demo page's browser test, which trains an SAE on webgpu).
 */
export const WEBGPU_CHROMIUM_ARGS = [
  ...CHROMIUM_ARGS.filter((a) => a !== '--disable-gpu'),
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--use-webgpu-adapter=swiftshader',
  '--use-angle=swiftshader',
];

async function launch(args: readonly string[] = CHROMIUM_ARGS): Promise<Browser | string> {
  const executablePath = findChromium();
  if (!executablePath) return 'no Chromium found (set CHROMIUM_PATH or install Debian\'s `chromium`)';
  let chromium: typeof import('playwright-core').chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    return `playwright-core not installed (${(e as Error).message})`;
  }
  try {
    return await chromium.launch({ executablePath, args: [...args], timeout: 60_000 });
  } catch (e) {
    return `Chromium at ${executablePath} did not start: ${(e as Error).message.split('\n')[0]}`;
  }
}

/** Why browser tests cannot run here (a browser is found, loads and starts), or undefined when they can. */
export async function browserSkipReason(): Promise<string | undefined> {
  const b = await launch();
  if (typeof b === 'string') return b;
  await b.close().catch(() => {});
  return undefined;
}

/** Runs `f` with a launched browser (CHROMIUM_ARGS unless `args`), closing it afterwards; fails the test when none starts. */
export async function withBrowser(t: ExecutionContext, f: (browser: Browser) => Promise<void>, args?: readonly string[]): Promise<void> {
  const browser = await launch(args);
  if (typeof browser === 'string') {
    t.fail(browser);
    return;
  }
  try {
    await f(browser);
  } finally {
    await browser.close().catch(() => {});
  }
}

/**
 * What a page does that the browser tests forbid, collected from now on: console errors and
 * uncaught exceptions (`errors`), and requests to anything but `origin` (`offsite`).
 */
export function watchPage(page: Page, origin: string): { errors: string[]; offsite: string[] } {
  const errors: string[] = [];
  const offsite: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => {
    if (!r.url().startsWith(`${origin}/`)) offsite.push(r.url());
  });
  return { errors, offsite };
}
