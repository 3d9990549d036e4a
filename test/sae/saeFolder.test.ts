import test, { type ExecutionContext } from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setupTf, leakedTensors } from '../helpers/tf.js';
import { Sae } from '../../src/sae/Sae.js';
import { DEFAULT_SAE_CONFIG } from '../../src/sae/SaeConfig.js';
import { loadSae, loadSaeSparsity, writeSaeFolder } from '../../src/sae/saeFolder.js';
import { SafetensorsFile } from '../../src/io/safetensors.js';
import { compare, FIXTURES, readFixture } from './fixtures.js';
import { tempDir } from '../helpers/tempDir.js';

test.before(async () => {
  await setupTf();
});

const cfg = { ...DEFAULT_SAE_CONFIG, dIn: 8, dSae: 24 };

function tmpDir(t: ExecutionContext): string {
  return tempDir(t, 'sae-rx-saefolder-');
}

test('writeSaeFolder writes SAELens tensor names/shapes and loadSae round-trips', async (t) => {
  const sae = Sae.create(cfg, { seed: 3 });
  const dir = path.join(tmpDir(t), 'sae');
  const freq = new Float32Array(24).map((_, i) => i / 100);
  await writeSaeFolder(dir, sae.snapshot(), { sparsity: freq, extraCfg: { l1_coefficient: 0.01 } });
  t.deepEqual(fs.readdirSync(dir).sort(), ['cfg.json', 'sae_weights.safetensors', 'sparsity.safetensors']);
  const f = await SafetensorsFile.open(path.join(dir, 'sae_weights.safetensors'));
  t.deepEqual(f.info('W_enc').shape, [8, 24]);
  t.deepEqual(f.info('b_enc').shape, [24]);
  t.deepEqual(f.info('W_dec').shape, [24, 8]);
  t.deepEqual(f.info('b_dec').shape, [8]);
  t.deepEqual(f.info('scaling_factor').shape, [24]);
  await f.close();
  const cfgJson = JSON.parse(fs.readFileSync(path.join(dir, 'cfg.json'), 'utf8'));
  t.is(cfgJson.d_in, 8);
  t.is(cfgJson.d_sae, 24);
  t.is(cfgJson.l1_coefficient, 0.01);
  const sp = (await loadSaeSparsity(dir))!;
  t.true(Math.abs(sp[0]! - -10) < 1e-5);
  t.true(Math.abs(sp[10]! - Math.log10(0.1)) < 1e-5);
  const back = await loadSae(dir);
  t.deepEqual(back.cfg, { ...cfg, dtype: 'float32' });
  t.deepEqual(back.snapshot().W_dec, sae.snapshot().W_dec);
  sae.dispose();
  back.dispose();
});

test('normScalingFactor is folded in: the saved SAE on raw x equals the trained SAE on x·s, rescaled', async (t) => {
  const sae = Sae.create(cfg, { seed: 4 });
  const s = 2.5;
  const dir = path.join(tmpDir(t), 'sae');
  await writeSaeFolder(dir, sae.snapshot(), { normScalingFactor: s });
  const back = await loadSae(dir);
  const leaked = await leakedTensors(() => {
    tf.tidy(() => {
      const x = tf.randomNormal([5, 8], 0, 1, 'float32', 1) as tf.Tensor2D;
      const a = sae.forward(tf.mul(x, s) as tf.Tensor2D);
      const b = back.forward(x);
      const fa = a.featureActs.arraySync(), fb = b.featureActs.arraySync();
      const oa = (tf.div(a.out, s) as tf.Tensor2D).arraySync(), ob = b.out.arraySync();
      for (let i = 0; i < 5; i++) for (let j = 0; j < 24; j++) t.true(Math.abs(fa[i]![j]! - fb[i]![j]!) < 1e-4);
      for (let i = 0; i < 5; i++) for (let j = 0; j < 8; j++) t.true(Math.abs(oa[i]![j]! - ob[i]![j]!) < 1e-4);
      tf.dispose([a.out, a.featureActs, a.hiddenPre, a.saeIn, b.out, b.featureActs, b.hiddenPre, b.saeIn]);
    });
  });
  t.is(leaked, 0);
  sae.dispose();
  back.dispose();
});

test('folders written in SAELens layout by the Python reference load with the same outputs (v1.5 flat cfg, v6 cfg)', async (t) => {
  const fx = readFixture('saelens_folders.json');
  const x = tf.tensor2d(fx.x, [fx.n, 16]);
  for (const which of ['v1_5', 'v6'] as const) {
    const sae = await loadSae(path.join(FIXTURES, which === 'v1_5' ? 'saelens_v1_5' : 'saelens_v6'));
    const out = sae.forward(x);
    const a = compare(out.featureActs.dataSync(), fx[which].feature_acts, 1e-5);
    const b = compare(out.out.dataSync(), fx[which].sae_out, 1e-5);
    t.true(a.ok, `${which} feature acts ${JSON.stringify(a)}`);
    t.true(b.ok, `${which} sae_out ${JSON.stringify(b)}`);
    tf.dispose([out.out, out.featureActs, out.hiddenPre, out.saeIn]);
    if (which === 'v1_5') {
      t.is(sae.cfg.activationFn, 'tanh-relu');
      t.is(sae.cfg.hookPoint, 'blocks.1.hook_resid_pre');
      t.is(sae.cfg.hookPointLayer, 1);
      const sp = await loadSaeSparsity(path.join(FIXTURES, 'saelens_v1_5'));
      t.true(compare(sp!, fx.v1_5.sparsity, 1e-6).ok);
    } else {
      t.false(sae.cfg.applyBDecToInput);
      t.is(sae.cfg.hookPoint, 'blocks.3.hook_resid_post');
      t.is(sae.cfg.hookPointLayer, 3);
      t.is(sae.cfg.modelName, 'gpt2');
      t.is(sae.cfg.contextSize, 256);
      // SAELens 6's standard SAE: no scaling_factor
      t.is(sae.cfg.architecture, 'standard_v6');
      t.false(sae.hasParam('scaling_factor'));
    }
    sae.dispose();
  }
  x.dispose();
});

test('loadSae errors name the file and the problem', async (t) => {
  const dir = path.join(tmpDir(t), 'bad');
  fs.mkdirSync(dir);
  await t.throwsAsync(loadSae(dir), { message: /cfg\.json/ });
  fs.writeFileSync(path.join(dir, 'cfg.json'), JSON.stringify({ architecture: 'crosscoder', d_in: 4, d_sae: 8, metadata: {} }));
  await t.throwsAsync(loadSae(dir), { message: /"architecture" "crosscoder" is not supported/ });
  const sae = Sae.create({ ...cfg }, { seed: 1 });
  await writeSaeFolder(dir, sae.snapshot());
  const j = JSON.parse(fs.readFileSync(path.join(dir, 'cfg.json'), 'utf8'));
  fs.writeFileSync(path.join(dir, 'cfg.json'), JSON.stringify({ ...j, d_sae: 32 }));
  await t.throwsAsync(loadSae(dir), { message: /tensor "W_(?:enc|dec)" has shape \[(?:8, 24|24, 8)\], expected \[(?:8, 32|32, 8)\]/ });
  sae.dispose();
});
