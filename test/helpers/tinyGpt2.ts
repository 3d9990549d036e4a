/**
 * Test helper: the tiny GPT-2 in ../shared/models/tiny-gpt2-sotu, for the test files that run it.
 * `useTinyGpt2` registers the hooks that set up tfjs and load it (and dispose of it), and
 * returns the test function to use: serial, or skip (saying why) when the folder is absent.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'ava';
import { HookedTransformer, type FromFolderOptions } from '../../src/model/HookedTransformer.js';
import { setupTf } from './tf.js';

export const TINY_GPT2_DIR = path.resolve('../shared/models/tiny-gpt2-sotu');
export const HAVE_TINY_GPT2 = fs.existsSync(path.join(TINY_GPT2_DIR, 'model.safetensors'));

export function useTinyGpt2(what: string, opts: FromFolderOptions = {}) {
  let model: HookedTransformer | undefined;
  test.before(async () => {
    await setupTf();
    if (HAVE_TINY_GPT2) model = await HookedTransformer.fromFolder(TINY_GPT2_DIR, opts);
  });
  test.after.always(() => model?.dispose());
  if (!HAVE_TINY_GPT2) console.log(`skipping ${what} tests on the tiny GPT-2: ${TINY_GPT2_DIR} is absent`);
  const withModel = HAVE_TINY_GPT2 ? test.serial : test.skip;
  return { withModel, model: (): HookedTransformer => model! };
}
