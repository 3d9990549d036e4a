/**
 * An SAE folder written here loads in PyTorch with SAELens's tensor names and shapes and gives
 * the same outputs there. The folder `test/fixtures/sae/ts_written/` and the expected outputs
 * beside it are what `writeSaeFolder` writes for fixed weights; this test keeps them
 * byte-identical to the current writer (UPDATE_FIXTURES=1 rewrites them), and
 * `/usr/bin/python3 scripts/reference/sae_check_ts_folder.py test/fixtures/sae` (run by hand:
 * tests never run Python) loads the folder with plain torch and checks the outputs.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setupTf } from '../helpers/tf.js';
import { DEFAULT_SAE_CONFIG, Sae, loadSae, writeSaeFolder } from '../../src/index.js';

const FIXTURES = path.resolve('test/fixtures/sae');
const FOLDER = path.join(FIXTURES, 'ts_written');
const EXPECTED = path.join(FIXTURES, 'ts_written_outputs.json');

/** A small deterministic integer PRNG (no tfjs RNG: the fixture must not depend on the backend). */
function values(n: number, seed: number, scale: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}

test.before(async () => {
  await setupTf();
});

test('an SAE folder written here is the committed fixture the PyTorch check script reads', async (t) => {
  const dIn = 8;
  const dSae = 24;
  const before = tf.memory().numTensors;
  const cfg = { ...DEFAULT_SAE_CONFIG, dIn, dSae, hookPoint: 'blocks.1.hook_resid_pre', hookPointLayer: 1, modelName: 'tiny-gpt2-sotu' };
  const sae = Sae.fromWeights(cfg, {
    W_enc: values(dIn * dSae, 1, 0.5),
    b_enc: values(dSae, 2, 0.1),
    W_dec: values(dSae * dIn, 3, 0.5),
    b_dec: values(dIn, 4, 0.2),
    scalingFactor: Float32Array.from({ length: dSae }, (_, i) => 1 + i / 100),
  });
  const x = values(5 * dIn, 5, 1);
  const sparsity = Float32Array.from({ length: dSae }, (_, i) => (i + 1) / (dSae + 1));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sae-rx-interop-'));
  const dir = path.join(tmp, 'ts_written');
  try {
    await writeSaeFolder(dir, sae.snapshot(), { sparsity });
    const loaded = await loadSae(dir);
    const input = tf.tensor2d(x, [5, dIn]);
    const { out, featureActs, hiddenPre, saeIn } = loaded.forward(input);
    const expected = {
      x: Array.from(x),
      shape: [5, dIn],
      feature_acts: Array.from(featureActs.dataSync()),
      sae_out: Array.from(out.dataSync()),
    };
    tf.dispose([input, out, featureActs, hiddenPre, saeIn]);
    loaded.dispose();
    if (process.env['UPDATE_FIXTURES'] === '1') {
      fs.rmSync(FOLDER, { recursive: true, force: true });
      fs.cpSync(dir, FOLDER, { recursive: true });
      fs.writeFileSync(EXPECTED, JSON.stringify(expected) + '\n');
    }
    for (const f of ['cfg.json', 'sae_weights.safetensors', 'sparsity.safetensors']) {
      t.deepEqual(fs.readFileSync(path.join(dir, f)), fs.readFileSync(path.join(FOLDER, f)), `${f} differs from the committed fixture`);
    }
    const committed = JSON.parse(fs.readFileSync(EXPECTED, 'utf8')) as typeof expected;
    // the committed outputs came from one matMul kernel; another (stock wasm, cpu) rounds differently
    const worst = Math.max(...committed.sae_out.map((v, i) => Math.abs(v - expected.sae_out[i]!)));
    t.true(worst < 1e-5, `sae_out differs from the committed outputs by ${worst}`);
  } finally {
    sae.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  t.is(tf.memory().numTensors, before);
});
