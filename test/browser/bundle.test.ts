/**
 * The browser bundle (scripts/buildBrowser.mjs, `npm run build:browser`): built from
 * src/browser.ts, it holds no Node built-in and no native addon, the platform boundary's browser
 * side replaces its Node side, and the check does fail when Node code is reached.
 */
import test from 'ava';
// @ts-expect-error -- a plain ESM script without types
import { BROWSER_TWINS, buildBrowser } from '../../scripts/buildBrowser.mjs';

interface Leak { module: string; importer: string; chain: string[] }
interface Built { bytes: number; metafile: { inputs: Record<string, unknown> }; nodeLeaks: Leak[] }

const build = (entry?: string): Promise<Built> => buildBrowser({ entry, write: false, minify: true });

test('the browser bundle holds no Node built-in or native addon, and the browser side of each twin', async (t) => {
  const b = await build();
  t.deepEqual(b.nodeLeaks.map((l) => `${l.chain.join(' -> ')} -> ${l.module}`), []);
  const inputs = Object.keys(b.metafile.inputs);
  for (const [nodeSide, browserSide] of Object.entries(BROWSER_TWINS as Record<string, string>)) {
    t.false(inputs.includes(nodeSide), `${nodeSide} is in the bundle`);
    t.true(inputs.includes(browserSide), `${browserSide} is not in the bundle`);
  }
  // What a page needs is in it: the SAE, trainer, model, operators, backends.
  for (const m of ['src/sae/Sae.ts', 'src/train/SaeTrainer.ts', 'src/model/HookedTransformer.ts', 'src/operators/trainSae.ts']) {
    t.true(inputs.includes(m), `${m} is missing from the bundle`);
  }
  for (const pkg of ['tfjs-backend-webgpu', 'tfjs-backend-webgl', 'tfjs-backend-wasm']) {
    t.true(inputs.some((f) => f.includes(`node_modules/@tensorflow/${pkg}/`)), `${pkg} is missing from the bundle`);
  }
  // The size, for the README and for noticing growth (minified, without the wasm binaries).
  t.log(`browser bundle: ${(b.bytes / 1024).toFixed(0)} KiB minified, ${inputs.length} modules`);
  t.true(b.bytes < 4 * 1024 * 1024, `bundle is ${b.bytes} bytes`);
});

test('the bundle check names the chain that reaches a Node built-in', async (t) => {
  const b = await build('test/fixtures/browser/leakyEntry.ts');
  const fsLeak = b.nodeLeaks.find((l) => l.module === 'node:fs');
  t.truthy(fsLeak, JSON.stringify(b.nodeLeaks));
  t.deepEqual(fsLeak!.chain, ['test/fixtures/browser/leakyEntry.ts', 'src/io/atomicWrite.ts']);
});
