/**
 * Remakes docs/demo.png, the README's picture of the demo page: starts the demo server, opens the
 * page in headless Chromium (Debian's `chromium`, or $CHROMIUM_PATH) on `webgl`, trains the toy
 * SAE, shows the default text's features and the dashboard of a latent, and saves the top of the
 * page. A few minutes on a software GPU.
 *
 *   npx tsx examples/browser/screenshot.ts [out.png]
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startDemoServer } from './server.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export async function demoScreenshot(out: string): Promise<void> {
  const executablePath = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
  const server = await startDemoServer({ port: 0 });
  try {
    const browser = await chromium.launch({ executablePath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-dev-shm-usage'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
      await page.goto(`${server.url}?backend=webgl`);
      const settled = (key: string, busy: string[], timeout = 600_000) =>
        page.waitForFunction(([k, b]) => { const v = document.body.dataset[k as string]; return v !== undefined && !(b as string[]).includes(v); }, [key, busy] as const, { timeout });
      await settled('lm', ['computing']);
      await page.locator('#toy-start').dispatchEvent('click');
      await settled('toy', ['running']);
      await page.locator('#lm-tokens .tok:nth-child(3) .feat').first().dispatchEvent('click');
      await settled('dashboard', ['computing']);
      await page.screenshot({ path: out, clip: { x: 0, y: 0, width: 1280, height: 1760 }, fullPage: true });
    } finally {
      await browser.close();
    }
  } finally {
    await server.close();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = path.resolve(process.argv[2] ?? path.join(HERE, '../../docs/demo.png'));
  demoScreenshot(out).then(
    () => process.stdout.write(`wrote ${out}\n`),
    (e) => {
      process.stderr.write(`${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}
