/**
 * The demo server (`npm run demo`, examples/browser/server.ts) without a browser: it listens on
 * loopback only, serves the page, its bundled script, the model and SAE files by their fixed
 * names, and nothing else; without the tiny GPT-2 its manifest carries a message the page shows.
 */
import * as path from 'node:path';
import test from 'ava';
import { DEFAULT_SAE_DIR, startDemoServer } from '../../examples/browser/server.js';
import { HAVE_TINY_GPT2 } from '../helpers/tinyGpt2.js';
import { titled } from '../helpers/skip.js';

test('the demo server serves the page, the bundle and the listed files only, on 127.0.0.1', async (t) => {
  const s = await startDemoServer({ port: 0, modelDir: path.resolve('no-such-model-dir') });
  t.teardown(() => s.close());
  t.regex(s.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const get = (p: string) => fetch(new URL(p, s.url));
  const page = await get('/');
  t.is(page.status, 200);
  t.regex(await page.text(), /<script type="module" src="sae-rx.js">/);
  const js = await get('/sae-rx.js');
  t.is(js.status, 200);
  t.regex(js.headers.get('content-type') ?? '', /javascript/);
  t.true((await js.text()).length > 100_000, 'the bundle holds the page and sae-rx');
  const sae = await get('/sae/cfg.json');
  t.is(sae.status, 200);
  t.is(((await sae.json()) as { d_sae: number }).d_sae, 256);
  const refused: Array<[string, number]> = [
    ['/model/../package.json', 404],
    ['/sae/..%2F..%2Fpackage.json', 404],
    ['/package.json', 404],
    ['/examples/browser/server.ts', 404],
    ['/model/', 404],
    ['/sae/runner_cfg.json', 404],
    ['/%E0%A4%A', 400],
  ];
  for (const [p, status] of refused) t.is((await get(p)).status, status, `${p} is not served`);
  const m = (await (await get('/demo.json')).json()) as { model: { available: boolean; message?: string }; sae: { available: boolean } };
  t.false(m.model.available);
  t.regex(m.model.message ?? '', /no-such-model-dir lacks config\.json, model\.safetensors/);
  t.regex(m.model.message ?? '', /\.\.\/shared/);
  t.true(m.sae.available, `the demo SAE folder ${DEFAULT_SAE_DIR} is committed`);
  t.is((await get('/model/config.json')).status, 404, 'a missing model file is a 404');
  const corpus = (await (await get('/corpus.json')).json()) as { paragraphs: string[] };
  t.true(corpus.paragraphs.length >= 20, `${corpus.paragraphs.length} corpus paragraphs`);
});

(HAVE_TINY_GPT2 ? test : test.skip)(titled('the demo server serves the tiny GPT-2 files from ../shared', HAVE_TINY_GPT2 ? undefined : '../shared/models/tiny-gpt2-sotu is absent'), async (t) => {
  const s = await startDemoServer({ port: 0 });
  t.teardown(() => s.close());
  const cfg = await fetch(new URL('/model/config.json', s.url));
  t.is(cfg.status, 200);
  t.is(((await cfg.json()) as { n_embd: number }).n_embd, 128);
  const w = await fetch(new URL('/model/model.safetensors', s.url));
  t.is(w.status, 200);
  t.true((await w.arrayBuffer()).byteLength > 1_000_000);
  const m = (await (await fetch(new URL('/demo.json', s.url))).json()) as { model: { available: boolean; message?: string } };
  t.true(m.model.available);
  t.is(m.model.message, undefined);
});
