/**
 * Transcoders on disk in SAELens 6's layout: cfg.json (`architecture` as saved, `d_out`,
 * `apply_b_dec_to_input` false, `metadata.hook_name_out` / `hook_layer_out` /
 * `hook_head_index_out`), `W_skip` and `threshold` by name; writeSaeFolder folds the input's and
 * the target's norm-scaling factors so that the loaded transcoder on raw x gives the raw target
 * scale: loaded(x) = trained(s_in·x) / s_out, for every transcoder architecture.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setupTf } from '../helpers/tf.js';
import { tempDir } from '../helpers/tempDir.js';
import { TRANSCODERS } from '../../src/sae/architectures/transcoder.js';
import { tableDefaults } from '../../src/config/fields.js';
import { Sae } from '../../src/sae/Sae.js';
import { DEFAULT_SAE_CONFIG, type SaeConfig } from '../../src/sae/SaeConfig.js';
import { loadSae, writeSaeFolder } from '../../src/sae/saeFolder.js';
import { compare, readFixture } from './fixtures.js';

test.before(async () => {
  await setupTf();
});

const D_IN = 8;
const D_OUT = 5;
const D_SAE = 24;
const K: Record<string, Record<string, unknown>> = { topk: { k: 4 }, batchtopk: { k: 4, topk_threshold_lr: 0.01 } };

function cfgOf(name: string): SaeConfig {
  const arch = TRANSCODERS.find((a) => a.name === name)!;
  const base = name.startsWith('topk') ? 'topk' : name.startsWith('batchtopk') ? 'batchtopk' : '';
  return {
    ...DEFAULT_SAE_CONFIG,
    architecture: name,
    archFields: { ...tableDefaults(arch.fields), ...(K[base] ?? {}) },
    dIn: D_IN,
    dOut: D_OUT,
    dSae: D_SAE,
    applyBDecToInput: false,
    normalizeSaeDecoder: false,
    bDecInitMethod: 'zeros',
    hookPoint: 'blocks.1.ln2.hook_normalized',
    hookPointLayer: 1,
    hookPointOut: 'blocks.1.hook_mlp_out',
    hookPointOutLayer: 1,
    hookPointOutHeadIndex: null,
  };
}

/** A trained-looking transcoder: random weights (W_skip and thresholds non-zero), a BatchTopK threshold. */
function randomSae(cfg: SaeConfig, seed: number): Sae {
  const arch = TRANSCODERS.find((a) => a.name === cfg.architecture)!;
  const params: Record<string, Float32Array> = {};
  arch.params(cfg).forEach((spec, i) => {
    const t = spec.name === 'threshold' ? tf.randomUniform([...spec.shape], 0.05, 0.4, 'float32', seed + i) : tf.randomNormal([...spec.shape], 0, 0.4, 'float32', seed + i);
    params[spec.name] = t.dataSync() as Float32Array;
    t.dispose();
  });
  return Sae.fromWeights(cfg, { params, state: cfg.architecture.startsWith('batchtopk') ? { topk_threshold: 0.3 } : {} });
}

const S_IN = 1.7;
const S_OUT = 0.6;

for (const arch of TRANSCODERS) {
  test.serial(`${arch.name}: saved in SAELens 6's transcoder layout with both norm factors folded; loads and runs on raw activations`, async (t) => {
    const tmp = tempDir(t, 'sae-rx-tc-folder-');
    const cfg = cfgOf(arch.name);
    const sae = randomSae(cfg, 11);
    const before = tf.memory().numTensors;
    const plain = path.join(tmp, 'plain');
    const folded = path.join(tmp, 'folded');
    await writeSaeFolder(plain, sae.snapshot());
    await writeSaeFolder(folded, sae.snapshot(), { normScalingFactor: S_IN, targetNormScalingFactor: S_OUT });
    const j = JSON.parse(fs.readFileSync(path.join(folded, 'cfg.json'), 'utf8'));
    const savedAs = arch.toInference(cfg, sae.snapshot().params, sae.state).architecture;
    t.is(j.architecture, savedAs);
    t.is(j.d_in, D_IN);
    t.is(j.d_out, D_OUT);
    t.is(j.d_sae, D_SAE);
    t.false(j.apply_b_dec_to_input);
    t.is(j.normalize_activations, 'none', 'the factors are folded in');
    t.is(j.metadata.hook_name, 'blocks.1.ln2.hook_normalized');
    t.is(j.metadata.hook_name_out, 'blocks.1.hook_mlp_out');
    t.is(j.metadata.hook_layer_out, 1);
    t.is(j.metadata.hook_head_index_out, null);
    if (arch.name.startsWith('topk')) t.is(j.k, 4);

    const a = await loadSae(plain);
    const b = await loadSae(folded);
    t.is(b.cfg.architecture, savedAs === 'jumprelu_transcoder' || savedAs === 'jumprelu_skip_transcoder' ? (arch.name.includes('skip') ? 'jumprelu_skip_transcoder' : 'jumprelu_transcoder') : arch.name);
    t.is(b.cfg.dOut, D_OUT);
    t.is(b.cfg.hookPointOut, 'blocks.1.hook_mlp_out');
    t.is(b.cfg.hookPointOutLayer, 1);
    t.deepEqual(b.param('W_dec').shape, [D_SAE, D_OUT]);
    if (arch.name.includes('skip')) t.deepEqual(b.param('W_skip').shape, [D_OUT, D_IN]);
    const x = tf.randomNormal([12, D_IN], 0, 1, 'float32', 3) as tf.Tensor2D;
    const scaledX = tf.mul(x, S_IN) as tf.Tensor2D;
    const ra = a.forward(scaledX);
    const rb = b.forward(x);
    const want = tf.div(ra.out, S_OUT);
    t.deepEqual(rb.out.shape, [12, D_OUT]);
    const c = compare(rb.out.dataSync(), want.dataSync(), 1e-5, 1e-5);
    t.true(c.ok, `loaded(x) = trained(s_in·x)/s_out: worst ${c.worst.toExponential(2)}`);
    t.true(rb.featureActs.dataSync().some((v) => v > 0), 'some latents fire');
    if (!arch.name.startsWith('batchtopk')) {
      // the unfolded save is the trained transcoder itself
      const live = sae.forward(scaledX);
      t.true(compare(ra.out.dataSync(), live.out.dataSync(), 1e-5, 1e-5).ok, 'the saved transcoder computes what was trained');
      tf.dispose(Object.values(live));
    }
    tf.dispose([x, scaledX, want, ...Object.values(ra), ...Object.values(rb)]);
    a.dispose();
    b.dispose();
    t.is(tf.memory().numTensors, before, 'no tensors leaked');
    sae.dispose();
  });
}

test('norm factors: an SAE takes no target factor; a transcoder with only the input factor keeps its output scale', async (t) => {
  const tmp = tempDir(t, 'sae-rx-tc-factors-');
  const sae = randomSae(cfgOf('skip_transcoder'), 5);
  const std = Sae.create({ ...DEFAULT_SAE_CONFIG, architecture: 'standard_v6', archFields: tableDefaults(TRANSCODERS[0]!.fields), dIn: 4, dSae: 8, normalizeSaeDecoder: false });
  await t.throwsAsync(writeSaeFolder(path.join(tmp, 'sae'), std.snapshot(), { targetNormScalingFactor: 2 }), { message: /targetNormScalingFactor is for transcoders/ });
  await t.throwsAsync(writeSaeFolder(path.join(tmp, 'bad'), sae.snapshot(), { targetNormScalingFactor: -1 }), { message: /targetNormScalingFactor must be a positive number/ });
  await writeSaeFolder(path.join(tmp, 'in-only'), sae.snapshot(), { normScalingFactor: 2 });
  const b = await loadSae(path.join(tmp, 'in-only'));
  const x = tf.randomNormal([4, D_IN], 0, 1, 'float32', 9) as tf.Tensor2D;
  const x2 = tf.mul(x, 2) as tf.Tensor2D;
  const ra = sae.forward(x2);
  const rb = b.forward(x);
  t.true(compare(rb.out.dataSync(), ra.out.dataSync(), 1e-5, 1e-5).ok, 'loaded(x) = trained(2x)');
  tf.dispose([x, x2, ...Object.values(ra), ...Object.values(rb)]);
  b.dispose();
  sae.dispose();
  std.dispose();
});

test('a transcoder config is checked: d_out, apply_b_dec_to_input, an SAE with d_out, a training-only architecture in a folder', async (t) => {
  t.throws(() => Sae.create({ ...cfgOf('transcoder'), dOut: undefined }), { message: /d_out: a transcoder needs the output width/ });
  t.throws(() => Sae.create({ ...cfgOf('transcoder'), applyBDecToInput: true }), { message: /apply_b_dec_to_input: not supported for transcoders/ });
  t.throws(() => Sae.create({ ...cfgOf('transcoder'), architecture: 'standard_v6' }), { message: /d_out: only transcoder architectures/ });
  const tmp = tempDir(t, 'sae-rx-tc-cfg-');
  const dir = path.join(tmp, 'f');
  const sae = randomSae(cfgOf('batchtopk_transcoder'), 2);
  await writeSaeFolder(dir, sae.snapshot());
  sae.dispose();
  const j = JSON.parse(fs.readFileSync(path.join(dir, 'cfg.json'), 'utf8'));
  fs.writeFileSync(path.join(dir, 'cfg.json'), JSON.stringify({ ...j, architecture: 'batchtopk_transcoder' }));
  await t.throwsAsync(loadSae(dir), { message: /"architecture" "batchtopk_transcoder" is not supported \(sae-rx saves those for inference as "jumprelu_transcoder"/ });
  const { d_out: _d, ...noDOut } = j;
  fs.writeFileSync(path.join(dir, 'cfg.json'), JSON.stringify(noDOut));
  await t.throwsAsync(loadSae(dir), { message: /"d_out" must be a positive integer/ });
});

/**
 * Folders their publishers write (scripts/reference/transcoder_folders.py): SAELens 6's transcoder
 * layout, Gemma Scope's params.npz (stored and deflated) and Gemma Scope 2's params.safetensors
 * with the affine skip connection; loadSae gives PyTorch's outputs of SAELens's formulas to 1e-5.
 */
const published = readFixture('transcoder_folders.json');
for (const [name, c] of Object.entries(published.cases as Record<string, any>)) {
  test.serial(`${name}: the published folder loads with SAELens's rules and gives PyTorch's outputs`, async (t) => {
    const dir = path.join('test', 'fixtures', 'sae', 'transcoder_folders', c.path);
    const before = tf.memory().numTensors;
    const sae = await loadSae(dir);
    t.is(sae.cfg.architecture, c.architecture);
    t.is(sae.cfg.dIn, published.d_in);
    t.is(sae.cfg.dOut, published.d_out);
    t.is(sae.cfg.dSae, published.d_sae);
    t.false(sae.cfg.applyBDecToInput);
    if (c.layer !== undefined) {
      t.is(sae.cfg.hookPoint, `blocks.${c.layer}.ln2.hook_normalized`);
      t.is(sae.cfg.hookPointOut, `blocks.${c.layer}.hook_mlp_out`);
    } else t.is(sae.cfg.hookPointOut, 'blocks.0.hook_mlp_out');
    const x = tf.tensor2d(published.x, [published.n, published.d_in]);
    const r = sae.forward(x);
    const fa = compare(r.featureActs.dataSync(), c.feature_acts, 1e-5, 1e-5);
    const out = compare(r.out.dataSync(), c.sae_out, 1e-5, 1e-5);
    t.log(`worst feature-act error ${fa.worst.toExponential(2)}, output ${out.worst.toExponential(2)} of max`);
    t.true(fa.ok && out.ok, `${JSON.stringify(fa.bad)} ${JSON.stringify(out.bad)}`);
    tf.dispose([x, ...Object.values(r)]);
    sae.dispose();
    t.is(tf.memory().numTensors, before);
  });
}

test('a Gemma Scope folder without layer_<L> in its path, or whose params.npz is no zip, is refused naming why', async (t) => {
  const tmp = tempDir(t, 'sae-rx-gs-');
  const src = path.join('test', 'fixtures', 'sae', 'transcoder_folders', published.cases.gemma_scope.path, 'params.npz');
  const dir = path.join(tmp, 'no_layer_here');
  fs.mkdirSync(dir);
  fs.copyFileSync(src, path.join(dir, 'params.npz'));
  await t.throwsAsync(loadSae(dir), { message: /no layer_<L> in the folder path/ });
  const bad = path.join(tmp, 'layer_1');
  fs.mkdirSync(bad);
  fs.writeFileSync(path.join(bad, 'params.npz'), 'not a zip at all, just text that is long enough');
  await t.throwsAsync(loadSae(bad), { message: /not a zip archive/ });
});
