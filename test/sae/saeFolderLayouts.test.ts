/**
 * What writeSaeFolder writes: SAELens 6's layout (cfg.json with `architecture`, `metadata`,
 * SAELens weight names) for the SAELens 6 architectures and for v1.5 SAEs SAELens v1.5 could
 * not load (d_sae not a multiple of d_in), v1.5's layout with every runner field otherwise; each
 * loads back with the same outputs.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setupTf } from '../helpers/tf.js';
import { Sae } from '../../src/sae/Sae.js';
import { DEFAULT_SAE_CONFIG, type SaeConfig } from '../../src/sae/SaeConfig.js';
import { checkSaeFolderWritable, loadSae, writeSaeFolder } from '../../src/sae/saeFolder.js';
import { SafetensorsFile } from '../../src/io/safetensors.js';
import { withDefaults } from './archFields.js';
import { compare } from './fixtures.js';

test.before(async () => {
  await setupTf();
});

function tmp(t: { teardown: (f: () => void) => void }): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'sae-rx-layouts-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

const base: SaeConfig = {
  ...DEFAULT_SAE_CONFIG,
  dIn: 8,
  dSae: 24,
  modelName: 'tiny-gpt2',
  hookPoint: 'blocks.1.hook_resid_pre',
  hookPointLayer: 1,
  contextSize: 32,
  normalizeSaeDecoder: false,
};

/** Random weights for every declared parameter (a trained-looking SAE, not the init). */
function randomSae(cfg: SaeConfig, seed: number): Sae {
  const init = Sae.create(cfg, { seed });
  const params: Record<string, Float32Array> = {};
  let i = 0;
  for (const name of init.paramNames()) {
    const v = init.param(name);
    const r = tf.tidy(() => tf.add(tf.mul(tf.randomNormal(v.shape, 0, 0.3, 'float32', seed + i++), name === 'threshold' ? 0.2 : 1), name === 'threshold' ? 0.3 : 0));
    params[name] = r.dataSync() as Float32Array;
    r.dispose();
  }
  init.dispose();
  return Sae.fromWeights(cfg, { params });
}

function sameOutputs(t: any, a: Sae, b: Sae, scale = 1): void {
  const x = tf.randomNormal([10, a.cfg.dIn], 0, 2, 'float32', 5) as tf.Tensor2D;
  const xs = tf.mul(x, scale) as tf.Tensor2D;
  const ra = a.forward(xs);
  const rb = b.forward(x);
  const back = tf.div(ra.out, scale);
  const fa = compare(rb.featureActs.dataSync(), ra.featureActs.dataSync(), 1e-5);
  const oa = compare(rb.out.dataSync(), back.dataSync(), 1e-5);
  t.true(fa.ok, `feature acts: ${JSON.stringify(fa)}`);
  t.true(oa.ok, `out: ${JSON.stringify(oa)}`);
  tf.dispose([x, xs, back, ...Object.values(ra), ...Object.values(rb)]);
}

for (const [arch, names] of [
  ['jumprelu', ['W_dec', 'W_enc', 'b_dec', 'b_enc', 'threshold']],
  ['gated', ['W_dec', 'W_enc', 'b_dec', 'b_gate', 'b_mag', 'r_mag']],
] as const) {
  test(`${arch}: written in SAELens 6's layout (architecture, metadata, SAELens weight names) and loaded back`, async (t) => {
    const cfg: SaeConfig = { ...base, architecture: arch, archFields: withDefaults(arch), runnerFields: { dataset_path: 'roneneldan/TinyStories', lr: 1e-3 } };
    const sae = randomSae(cfg, 3);
    const dir = path.join(tmp(t), 'sae');
    await writeSaeFolder(dir, sae.snapshot(), { sparsity: new Float32Array(24).fill(0.01) });
    const j = JSON.parse(fs.readFileSync(path.join(dir, 'cfg.json'), 'utf8'));
    t.like(j, { architecture: arch, d_in: 8, d_sae: 24, dtype: 'float32', apply_b_dec_to_input: true, normalize_activations: 'none', reshape_activations: 'none' });
    t.like(j.metadata, { hook_name: 'blocks.1.hook_resid_pre', model_name: 'tiny-gpt2', context_size: 32, dataset_path: 'roneneldan/TinyStories', training_architecture: arch });
    t.true(Number(j.metadata.sae_lens_version.split('.')[0]) >= 6);
    t.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'runner_cfg.json'), 'utf8')), { dataset_path: 'roneneldan/TinyStories', lr: 1e-3 });
    const f = await SafetensorsFile.open(path.join(dir, 'sae_weights.safetensors'));
    t.deepEqual(f.names().sort(), [...names]);
    await f.close();
    const back = await loadSae(dir);
    t.is(back.cfg.architecture, arch);
    t.is(back.cfg.hookPoint, 'blocks.1.hook_resid_pre');
    sameOutputs(t, sae, back);
    sae.dispose();
    back.dispose();
  });

  test(`${arch}: the norm scaling factor is folded in (W_enc·s, W_dec/s, b_dec/s) and normalize_activations is none`, async (t) => {
    const cfg: SaeConfig = { ...base, architecture: arch, archFields: withDefaults(arch) };
    const sae = randomSae(cfg, 4);
    const dir = path.join(tmp(t), 'sae');
    await writeSaeFolder(dir, sae.snapshot(), { normScalingFactor: 2.5 });
    const back = await loadSae(dir);
    // the saved SAE on raw x: the trained SAE's output on x·s, divided by s; acts as on x·s
    sameOutputs(t, sae, back, 2.5);
    sae.dispose();
    back.dispose();
  });
}

test('v1.5 SAE: v1.5 layout with every runner field in cfg.json (SAELens v1.5 save_model dumps the runner config)', async (t) => {
  const runnerFields = { dataset_path: 'NeelNanda/c4-tokenized-2b', l1_coefficient: 0.004, lr: 4e-4, training_tokens: 1_000_000, train_batch_size: 2048, lr_scheduler_name: 'constant' };
  const sae = Sae.create({ ...base, runnerFields }, { seed: 2 });
  const dir = path.join(tmp(t), 'sae');
  await writeSaeFolder(dir, sae.snapshot());
  const j = JSON.parse(fs.readFileSync(path.join(dir, 'cfg.json'), 'utf8'));
  t.like(j, { ...runnerFields, d_in: 8, d_sae: 24, expansion_factor: 3, hook_point: 'blocks.1.hook_resid_pre', sae_lens_version: '1.5.0' });
  t.false('architecture' in j || 'metadata' in j);
  const back = await loadSae(dir);
  t.is(back.cfg.architecture, 'standard');
  sameOutputs(t, sae, back);
  sae.dispose();
  back.dispose();
});

test('v1.5 SAE whose d_sae is not a multiple of d_in: SAELens 6 layout (scaling_factor folded into W_dec); tanh-relu refused', async (t) => {
  const cfg: SaeConfig = { ...base, dSae: 20 };
  const sae0 = Sae.create(cfg, { seed: 6 });
  const snap0 = sae0.snapshot();
  const scaling = snap0.scalingFactor.map((_, i) => 0.5 + i / 20);
  const sae = Sae.fromWeights(cfg, { W_enc: snap0.W_enc, b_enc: snap0.b_enc.map((_, i) => 0.01 * i), W_dec: snap0.W_dec, b_dec: snap0.b_dec, scalingFactor: scaling });
  sae0.dispose();
  const dir = path.join(tmp(t), 'sae');
  await writeSaeFolder(dir, sae.snapshot());
  const j = JSON.parse(fs.readFileSync(path.join(dir, 'cfg.json'), 'utf8'));
  t.like(j, { architecture: 'standard', d_in: 8, d_sae: 20 });
  t.truthy(j.metadata);
  const f = await SafetensorsFile.open(path.join(dir, 'sae_weights.safetensors'));
  t.deepEqual(f.names().sort(), ['W_dec', 'W_enc', 'b_dec', 'b_enc']);
  await f.close();
  const back = await loadSae(dir);
  sameOutputs(t, sae, back);
  sae.dispose();
  back.dispose();
  const tanh: SaeConfig = { ...cfg, activationFn: 'tanh-relu' };
  t.throws(() => checkSaeFolderWritable(tanh), { message: /d_sae 20 is not a multiple of d_in 8.*SAELens v1\.5.*cannot load/ });
  const s2 = Sae.create(tanh, { seed: 1 });
  await t.throwsAsync(writeSaeFolder(path.join(tmp(t), 'x'), s2.snapshot()), { message: /tanh-relu/ });
  s2.dispose();
});

test('a language-model runner config reaches cfg.json whole: dataset_path, l1_coefficient, lr, training_tokens, train_batch_size, …', async (t) => {
  const { decodeRunnerConfig } = await import('../../src/config/runnerConfig.js');
  const { runnerSpecs } = await import('../../src/runners/languageModelRunner.js');
  const { expandSweep } = await import('../../src/config/sweep.js');
  const cfg = decodeRunnerConfig({
    model_name: 'tiny-gpt2', hook_point: 'blocks.1.hook_resid_pre', hook_point_layer: 1, d_in: 8, expansion_factor: 3,
    dataset_path: 'roneneldan/TinyStories', l1_coefficient: 0.004, lr: 4e-4, training_tokens: 123_456, train_batch_size: 512,
    context_size: 64, log_to_wandb: false,
  });
  const [spec] = runnerSpecs(expandSweep(cfg));
  const sae = Sae.create(spec!.sae, { seed: 1 });
  const dir = path.join(tmp(t), 'sae');
  await writeSaeFolder(dir, sae.snapshot());
  sae.dispose();
  const j = JSON.parse(fs.readFileSync(path.join(dir, 'cfg.json'), 'utf8'));
  t.like(j, {
    dataset_path: 'roneneldan/TinyStories', l1_coefficient: 0.004, lr: 4e-4, training_tokens: 123_456, train_batch_size: 512,
    context_size: 64, lr_scheduler_name: 'constant', lr_warm_up_steps: 500, d_sae: 24, expansion_factor: 3, dtype: 'torch.float32',
  });
  t.is(j.tokens_per_buffer, 512 * 64 * 20);
});

test('trainSae refuses, before training, an SAE that no SAELens folder layout can hold', async (t) => {
  const { trainSae } = await import('../../src/operators/trainSae.js');
  const { DEFAULT_TRAINER_CONFIG } = await import('../../src/train/TrainerConfig.js');
  const spec = { sae: { ...base, dSae: 20, activationFn: 'tanh-relu' as const }, trainer: DEFAULT_TRAINER_CONFIG };
  t.throws(() => trainSae(spec, { checkpointPath: tmp(t) }), { message: /SAE sae: d_sae 20 is not a multiple of d_in 8/ });
  // nothing is written without a checkpoint path: nothing to refuse
  t.notThrows(() => trainSae(spec, {}));
});
