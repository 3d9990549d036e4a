/**
 * SAE folders written here in SAELens 6's layout (jumprelu, gated, and a v1.5 SAE whose d_sae is
 * not a multiple of d_in) load the way SAELens 6 loads a folder and give the same outputs there.
 * `test/fixtures/sae/ts_written_v6/` and `ts_written_v6_outputs.json` are what `writeSaeFolder`
 * writes for fixed weights; this test keeps them byte-identical to the current writer
 * (UPDATE_FIXTURES=1 rewrites them), and
 * `/usr/bin/python3 scripts/reference/sae_check_ts_folder_v6.py` (run by hand: tests never run
 * Python) checks each cfg.json as SAELens 6's loader reads it (version ≥ 6, architecture,
 * dtype, metadata.hook_name), the exact state-dict keys, shapes and dtypes, and the outputs.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setupTf } from '../helpers/tf.js';
import { Sae } from '../../src/sae/Sae.js';
import { DEFAULT_SAE_CONFIG, type SaeConfig } from '../../src/sae/SaeConfig.js';
import { loadSae, writeSaeFolder } from '../../src/sae/saeFolder.js';
import { withDefaults } from './archFields.js';

const FIXTURES = path.resolve('test/fixtures/sae');
const FOLDER = path.join(FIXTURES, 'ts_written_v6');
const EXPECTED = path.join(FIXTURES, 'ts_written_v6_outputs.json');

/** A deterministic integer PRNG (the fixture must not depend on the backend's RNG). */
function values(n: number, seed: number, scale: number, offset = 0): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale + offset;
  }
  return out;
}

test.before(async () => {
  await setupTf();
});

const dIn = 8;
const base: SaeConfig = { ...DEFAULT_SAE_CONFIG, dIn, dSae: 24, hookPoint: 'blocks.1.hook_resid_pre', hookPointLayer: 1, modelName: 'tiny-gpt2-sotu', normalizeSaeDecoder: false };

const SAES: Record<string, () => Sae> = {
  jumprelu: () =>
    Sae.fromWeights({ ...base, architecture: 'jumprelu', archFields: withDefaults('jumprelu') }, {
      params: { W_enc: values(dIn * 24, 1, 0.5), b_enc: values(24, 2, 0.1), W_dec: values(24 * dIn, 3, 0.5), b_dec: values(dIn, 4, 0.2), threshold: values(24, 5, 0.2, 0.3) },
    }),
  gated: () =>
    Sae.fromWeights({ ...base, architecture: 'gated', archFields: withDefaults('gated') }, {
      params: { W_enc: values(dIn * 24, 1, 0.5), W_dec: values(24 * dIn, 3, 0.5), b_dec: values(dIn, 4, 0.2), b_gate: values(24, 6, 0.2), b_mag: values(24, 7, 0.2), r_mag: values(24, 8, 0.3) },
    }),
  standard_d_sae_20: () =>
    Sae.fromWeights({ ...base, dSae: 20 }, {
      W_enc: values(dIn * 20, 1, 0.5), b_enc: values(20, 2, 0.1), W_dec: values(20 * dIn, 3, 0.5), b_dec: values(dIn, 4, 0.2),
      scalingFactor: Float32Array.from({ length: 20 }, (_, i) => 1 + i / 50),
    }),
};

test('SAE folders written here in SAELens 6 layout are the committed fixtures the PyTorch check script reads', async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sae-rx-interop6-'));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const x = values(5 * dIn, 9, 1.5);
  const expected: Record<string, unknown> = { x: Array.from(x), shape: [5, dIn], saes: {} };
  const update = process.env['UPDATE_FIXTURES'] === '1';
  if (update) fs.rmSync(FOLDER, { recursive: true, force: true });
  for (const [name, make] of Object.entries(SAES)) {
    const sae = make();
    const dir = path.join(tmp, name);
    await writeSaeFolder(dir, sae.snapshot());
    const loaded = await loadSae(dir);
    const input = tf.tensor2d(x, [5, dIn]);
    const a = sae.forward(input);
    const b = loaded.forward(input);
    (expected['saes'] as Record<string, unknown>)[name] = { feature_acts: Array.from(b.featureActs.dataSync()), sae_out: Array.from(b.out.dataSync()) };
    const worst = Math.max(...Array.from(a.out.dataSync()).map((v, i) => Math.abs(v - b.out.dataSync()[i]!)));
    t.true(worst < 1e-5, `${name}: the saved SAE's output differs from the trained one's by ${worst}`);
    tf.dispose([input, ...Object.values(a), ...Object.values(b)]);
    sae.dispose();
    loaded.dispose();
    if (update) fs.cpSync(dir, path.join(FOLDER, name), { recursive: true });
    for (const f of ['cfg.json', 'sae_weights.safetensors']) {
      t.deepEqual(fs.readFileSync(path.join(dir, f)), fs.readFileSync(path.join(FOLDER, name, f)), `${name}/${f} differs from the committed fixture`);
    }
  }
  if (update) fs.writeFileSync(EXPECTED, JSON.stringify(expected) + '\n');
  const committed = JSON.parse(fs.readFileSync(EXPECTED, 'utf8'));
  for (const [name, e] of Object.entries(expected['saes'] as Record<string, { sae_out: number[] }>)) {
    const worst = Math.max(...committed.saes[name].sae_out.map((v: number, i: number) => Math.abs(v - e.sae_out[i]!)));
    t.true(worst < 1e-5, `${name}: sae_out differs from the committed outputs by ${worst}`);
  }
});
