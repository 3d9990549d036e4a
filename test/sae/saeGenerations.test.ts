/**
 * SAE folders as each SAELens generation writes them (scripts/reference/saelens_generations.py:
 * 3.x–5.x flat cfg.json, 6.x cfg.json with metadata; float64/float32/float16/bfloat16 weights;
 * standard, TopK (as architecture and as `activation_fn_str: "topk"`), JumpReLU (with
 * `threshold` or `log_threshold`), Gated; every `normalize_activations` mode) load with outputs
 * equal to a PyTorch computation of that architecture, and what cannot be honoured is a clear
 * error naming the field/tensor and the value.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { leakedTensors, setupTf } from '../helpers/tf.js';
import { loadSae } from '../../src/sae/saeFolder.js';
import { readSaeFolderCfg } from '../../src/sae/folderCfg.js';
import { compare, FIXTURES, readFixture } from './fixtures.js';

test.before(async () => {
  await setupTf();
});

const GEN = path.join(FIXTURES, 'generations');
const fx = readFixture('generations.json');

const tmp = (t: { teardown: (f: () => void) => void }) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'sae-rx-gen-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
};

/** A copy of fixture folder `name` whose cfg.json is edited by `edit`. */
function editedCopy(t: Parameters<typeof tmp>[0], name: string, edit: (cfg: any) => void): string {
  const d = path.join(tmp(t), name);
  fs.cpSync(path.join(GEN, name), d, { recursive: true });
  const cfg = JSON.parse(fs.readFileSync(path.join(d, 'cfg.json'), 'utf8'));
  edit(cfg);
  fs.writeFileSync(path.join(d, 'cfg.json'), JSON.stringify(cfg));
  return d;
}

const readCfg = (name: string) => readSaeFolderCfg(JSON.parse(fs.readFileSync(path.join(GEN, name, 'cfg.json'), 'utf8')), name);

test('each generation cfg.json is read for what it says (generation, architecture, hook, normalisation, dtype, k)', (t) => {
  const v3 = readCfg('v3_standard_f64');
  t.like(v3, { generation: 'v3-5', architecture: 'standard', dtype: 'float64', hookName: 'blocks.5.hook_resid_pre', hookLayer: 5, modelName: 'gpt2' });
  // was silently ReLU with the hook reset to blocks.0.hook_mlp_out
  t.like(readCfg('v4_topk_as_standard_bf16'), { architecture: 'topk', k: 5, dtype: 'bfloat16', hookName: 'blocks.5.hook_resid_pre' });
  t.like(readCfg('v5_topk_f32'), { architecture: 'topk', k: 7 });
  t.like(readCfg('v5_tanh_finetuned'), { architecture: 'standard', activationFn: 'tanh-relu', finetuningScalingFactor: true });
  t.like(readCfg('v5_jumprelu_f16_constant_norm'), { architecture: 'jumprelu', normalizeActivations: 'constant_norm_rescale', dtype: 'float16' });
  t.like(readCfg('v5_gated_layer_norm'), { architecture: 'gated', normalizeActivations: 'layer_norm' });
  const v6 = readCfg('v6_topk_rescale_f64');
  t.like(v6, {
    generation: 'v6', architecture: 'topk', k: 6, rescaleActsByDecoderNorm: true, dtype: 'float64',
    hookName: 'blocks.2.hook_resid_post', hookLayer: 2, modelName: 'pythia-70m-deduped', contextSize: 64, saeLensVersion: '6.18.0',
  });
  t.like(readCfg('v6_standard_layer_norm_bf16'), { generation: 'v6', normalizeActivations: 'layer_norm', dtype: 'bfloat16' });
});

for (const name of Object.keys(fx.cases)) {
  test(`${name}: loads with outputs equal to the PyTorch computation`, async (t) => {
    const c = fx.cases[name];
    const sae = await loadSae(path.join(GEN, name), { warn: () => {} });
    t.teardown(() => sae.dispose());
    t.is(sae.cfg.architecture === 'standard_v6' ? 'standard' : sae.cfg.architecture, c.architecture);
    const x = tf.tensor2d(fx.x, [fx.n, fx.d_in]);
    const leaked = await leakedTensors(() => {
      const out = sae.forward(x);
      const a = compare(out.featureActs.dataSync(), c.feature_acts, 1e-5);
      const b = compare(out.out.dataSync(), c.sae_out, 1e-5);
      t.true(a.ok, `feature acts ${JSON.stringify(a)}`);
      t.true(b.ok, `sae_out ${JSON.stringify(b)}`);
      tf.dispose(Object.values(out));
    });
    x.dispose();
    t.is(leaked, 0);
  });
}

test('expected_average_only_in without a known factor runs unscaled (as SAELens) and says so; a given factor is folded in', async (t) => {
  const dir = path.join(GEN, 'v6_expected_average_only_in');
  const warned: string[] = [];
  const plain = await loadSae(dir, { warn: (m) => warned.push(m) });
  t.is(warned.length, 1);
  t.regex(warned[0]!, /expected_average_only_in.*normScalingFactor/);
  const s = 2.5;
  const folded = await loadSae(dir, { normScalingFactor: s, warn: () => t.fail('no warning expected') });
  t.teardown(() => (plain.dispose(), folded.dispose()));
  // the folded SAE on raw x equals the unscaled SAE on x·s, outputs divided by s
  const x = tf.tensor2d(fx.x, [fx.n, fx.d_in]);
  const xs = tf.mul(x, s) as tf.Tensor2D;
  const a = plain.forward(xs);
  const b = folded.forward(x);
  const back = tf.div(a.out, s);
  t.true(compare(b.featureActs.dataSync(), a.featureActs.dataSync(), 1e-5).ok);
  t.true(compare(b.out.dataSync(), back.dataSync(), 1e-5).ok);
  tf.dispose([x, xs, back, ...Object.values(a), ...Object.values(b)]);
});

test('what cannot be honoured is an error naming the field or tensor and the value', async (t) => {
  const cases: Array<[string, (c: any) => void, RegExp]> = [
    ['v6_jumprelu', (c) => (c.architecture = 'matching_pursuit'), /"architecture" "matching_pursuit" is not supported/],
    // transcoders load (test/sae/transcoderFolder.test.ts); one without its d_out is refused
    ['v6_jumprelu', (c) => (c.architecture = 'jumprelu_skip_transcoder'), /"d_out" must be a positive integer, got undefined/],
    ['v6_jumprelu', (c) => (c.architecture = 'batchtopk'), /"architecture" "batchtopk".*saves those for inference as "jumprelu"/],
    ['v6_standard_constant_norm', (c) => (c.normalize_activations = 'covariance_whitening'), /"normalize_activations" "covariance_whitening" is not supported/],
    ['v6_standard_constant_norm', (c) => (c.dtype = 'int8'), /"dtype" "int8" is not supported/],
    ['v6_standard_constant_norm', (c) => (c.reshape_activations = 'hook_q'), /"reshape_activations" "hook_q"/],
    ['v6_topk_rescale_f64', (c) => delete c.k, /"k" must be a positive integer for architecture "topk"/],
    ['v5_topk_f32', (c) => (c.activation_fn_kwargs = {}), /"activation_fn_str" is "topk" but "activation_fn_kwargs.k" is undefined/],
    ['v5_topk_f32', (c) => (c.activation_fn_str = 'gelu'), /"activation_fn_str" "gelu" is not supported/],
    ['v5_gated_layer_norm', (c) => (c.activation_fn_str = 'tanh-relu'), /tanh-relu" is only supported for the standard architecture/],
    // jumprelu weights under a standard cfg: the threshold would be dropped
    ['v6_jumprelu', (c) => (c.architecture = 'standard'), /unexpected tensor "threshold" for architecture standard/],
    // a gated folder relabelled jumprelu: b_enc and threshold missing
    ['v6_gated_layer_norm', (c) => (c.architecture = 'jumprelu'), /unexpected tensor "b_gate"|missing tensor "b_enc"/],
    ['v5_tanh_finetuned', (c) => (c.finetuning_scaling_factor = false), /"finetuning_scaling_factor" is not all ones but cfg\.json's finetuning_scaling_factor is not true/],
    ['v6_standard_constant_norm', (c) => (c.d_sae = 40), /tensor "W_enc" has shape \[16, 48\], expected \[16, 40\]/],
  ];
  for (const [name, edit, re] of cases) {
    const dir = editedCopy(t, name, edit);
    const e = await t.throwsAsync(loadSae(dir, { warn: () => {} }));
    t.regex(e!.message, re, `${name}: ${e!.message}`);
  }
});

test('a JumpReLU folder with neither threshold nor log_threshold is refused', async (t) => {
  const { writeSafetensors, SafetensorsFile } = await import('../../src/io/safetensors.js');
  const dir = editedCopy(t, 'v6_jumprelu', () => {});
  const f = await SafetensorsFile.open(path.join(dir, 'sae_weights.safetensors'));
  const kept: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
  for (const n of f.names()) if (n !== 'threshold') kept[n] = { dtype: 'F32', shape: f.info(n).shape, data: await f.readFloat32(n) };
  await f.close();
  await writeSafetensors(path.join(dir, 'sae_weights.safetensors'), kept);
  await t.throwsAsync(loadSae(dir), { message: /missing tensor "threshold" \(nor "log_threshold"\) for architecture jumprelu/ });
});
