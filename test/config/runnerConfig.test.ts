import test from 'ava';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isLeft } from 'fp-ts/lib/Either.js';
import { ConfigError } from '../../src/errors.js';
import {
  LanguageModelSaeRunnerConfigCodec, RunnerConfigError, applyOverrides, closestKey, decodeRunnerConfig,
  encodeRunnerConfig, expandSweep, isSweep, loadConfigFile, redactSecrets,
} from '../../src/config/index.js';
import { toSaeConfig, toTrainerConfig } from '../../src/runners/configMapping.js';
import { pyExp3, pyFloat, pyStr } from '../../src/config/pyFormat.js';
import { DEFAULT_SAE_CONFIG } from '../../src/sae/SaeConfig.js';
import { DEFAULT_TRAINER_CONFIG } from '../../src/train/TrainerConfig.js';
import { tempDir } from '../helpers/tempDir.js';

const fixtures = fileURLToPath(new URL('../fixtures/config/', import.meta.url));
const fixture = (name: string) => JSON.parse(readFileSync(join(fixtures, name), 'utf8')) as Record<string, unknown>;
const fixedId = { generateId: () => 'fixedid1' };

/** Decodes and returns the error message (fails the test if decoding succeeds). */
function errorOf(t: import('ava').ExecutionContext, raw: unknown): string {
  const e = t.throws(() => decodeRunnerConfig(raw, 'language_model', fixedId), { instanceOf: ConfigError });
  return e?.message ?? '';
}

// --- defaults ---------------------------------------------------------------

test('language-model defaults equal SAELens v1.5.0 dataclass defaults', (t) => {
  const cfg = decodeRunnerConfig({}, 'language_model', fixedId) as unknown as Record<string, unknown>;
  const sae = fixture('saelens-1.5.0-lm-defaults.json');
  // Fields __post_init__ derives are checked in the next test.
  const derived = new Set(['d_sae', 'lr_end', 'run_name', 'checkpoint_path']);
  for (const [k, v] of Object.entries(sae)) {
    if (k.startsWith('_') || derived.has(k)) continue;
    t.deepEqual(cfg[k], v, k);
  }
  const extra = Object.keys(cfg).filter((k) => !(k in sae));
  t.deepEqual(extra.sort(), ['run_id', 'tokens_per_buffer', 'total_training_steps']);
});

test('derived fields follow SAELens __post_init__', (t) => {
  const cfg = decodeRunnerConfig({}, 'language_model', fixedId);
  t.is(cfg.d_sae, 512 * 4);
  t.is(cfg.lr_end, 3e-4 / 10);
  t.is(cfg.run_name, '2048-L1-0.001-LR-0.0003-Tokens-2.000e+06');
  t.is(cfg.tokens_per_buffer, 4096 * 128 * 20);
  t.is(cfg.total_training_steps, Math.floor(2_000_000 / 4096));
  t.is(cfg.checkpoint_path, 'checkpoints/fixedid1');
  t.is(cfg.cached_activations_path, null);

  const c2 = decodeRunnerConfig(
    {
      d_in: 768, expansion_factor: 32, lr: 1e-5, l1_coefficient: 8e-5, training_tokens: 300_000_000,
      finetuning_tokens: 1_000_000, train_batch_size: 4096, wandb_id: 'abc', use_cached_activations: true,
      model_name: 'gpt2-small', dataset_path: 'Skylion007/openwebtext', hook_point: 'blocks.8.hook_resid_pre',
      hook_point_head_index: 3,
    },
    'language_model',
    fixedId,
  );
  t.is(c2.d_sae, 24576);
  t.is(c2.lr_end, 1e-5 / 10);
  t.is(c2.run_name, '24576-L1-8e-05-LR-1e-05-Tokens-3.000e+08');
  t.is(c2.total_training_steps, Math.floor(301_000_000 / 4096));
  t.is(c2.checkpoint_path, 'checkpoints/abc');
  t.is(c2.hook_point_layer, 8, 'layer taken from a concrete hook_point');
  t.is(c2.cached_activations_path, 'activations/Skylion007_openwebtext/gpt2-small/blocks.8.hook_resid_pre_3');

  // A given run_name / lr_end are kept; d_sae alone implies expansion_factor.
  const c3 = decodeRunnerConfig({ run_name: 'mine', lr_end: 0, d_sae: 1024, d_in: 256 }, 'language_model', fixedId);
  t.is(c3.run_name, 'mine');
  t.is(c3.lr_end, 0);
  t.is(c3.d_sae, 1024);
  t.is(c3.expansion_factor, 4);
  // SAELens's cfg.json writes dtype as "torch.float32" and derived keys: both read back.
  const c4 = decodeRunnerConfig({ dtype: 'torch.float32', tokens_per_buffer: 1, lr_scheduler_name: 'CosineAnnealing' });
  t.is(c4.dtype, 'float32');
  t.is(c4.tokens_per_buffer, 4096 * 128 * 20);
  t.is(c4.lr_scheduler_name, 'cosineannealing');
});

test('cache-activations and toy-model defaults equal SAELens v1.5.0', (t) => {
  const cache = decodeRunnerConfig({}, 'cache_activations') as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(fixture('saelens-1.5.0-cache-defaults.json'))) {
    if (k.startsWith('_') || k === 'new_cached_activations_path') continue;
    t.deepEqual(cache[k], v, k);
  }
  t.is(cache.new_cached_activations_path, 'activations/NeelNanda_c4-tokenized-2b/gelu-2l/blocks.{layer}.hook_mlp_out');
  const toy = decodeRunnerConfig({}, 'toy_model') as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(fixture('saelens-1.5.0-toy-defaults.json'))) {
    if (k.startsWith('_')) continue;
    t.deepEqual(toy[k], v, k);
  }
  t.is(toy.d_in, 2, 'd_in = n_hidden');
  const e = t.throws(() => decodeRunnerConfig({ n_features: 3, n_correlated_pairs: 1, n_anticorrelated_pairs: 1 }, 'toy_model'));
  t.regex(e!.message, /n_correlated_pairs \/ n_anticorrelated_pairs: .*exceed n_features 3/);
});

// --- mistakes: each gives a readable line naming the field ------------------

const mistakes: Array<[string, Record<string, unknown> | unknown, RegExp]> = [
  ['wrong type', { d_in: '512' }, /- d_in: expected a positive integer, got "512"/],
  ['unknown key with suggestion', { l1_coeficient: 1e-3 }, /- l1_coeficient: unknown key; did you mean l1_coefficient\?/],
  ['camelCase key', { trainBatchSize: 8 }, /- trainBatchSize: unknown key; did you mean train_batch_size\?/],
  ['negative lr', { lr: -1e-4 }, /- lr: expected a positive number .*got -0\.0001/],
  ['zero batch size', { train_batch_size: 0 }, /- train_batch_size: expected a positive integer, got 0/],
  ['non-integer context size', { context_size: 12.5 }, /- context_size: expected a positive integer, got 12\.5/],
  ['bad enum', { activation_fn: 'gelu' }, /- activation_fn: expected one of "relu" \| "tanh-relu", got "gelu"/],
  ['bad b_dec_init_method', { b_dec_init_method: 'median' }, /- b_dec_init_method: expected one of "geometric_median" \| "mean" \| "zeros", got "median"/],
  ['bad scheduler', { lr_scheduler_name: 'linear' }, /- lr_scheduler_name: expected one of "constant"/],
  ['adam beta out of range', { adam_beta2: 1 }, /- adam_beta2: expected a number in \[0, 1\)/],
  ['normalize + heuristic init', { decoder_heuristic_init: true }, /- normalize_sae_decoder \/ decoder_heuristic_init: you can't normalize the decoder and use heuristic initialization/],
  ['normalize + scaled sparsity', { scale_sparsity_penalty_by_decoder_norm: true }, /- normalize_sae_decoder \/ scale_sparsity_penalty_by_decoder_norm: /],
  ['decoder fine-tuning + b_dec on input', { finetuning_method: 'decoder' }, /- finetuning_method \/ apply_b_dec_to_input: .*set apply_b_dec_to_input to false/],
  ['d_sae vs expansion_factor', { d_sae: 1000, expansion_factor: 4 }, /- d_sae: d_sae 1000 does not match d_in × expansion_factor = 512 × 4 = 2048/],
  ['bad hook name', { hook_point: 'blocks 0 mlp' }, /- hook_point: expected a TransformerLens hook name/],
  ['hook name without hook_ point', { hook_point: 'blocks.0.mlp' }, /- hook_point: expected a hook name ending in a hook_\* point/],
  ['unknown placeholder', { hook_point: 'blocks.{l}.hook_mlp_out' }, /- hook_point: only the \{layer\} placeholder/],
  ['hook layer vs hook_point_layer', { hook_point: 'blocks.3.hook_resid_pre', hook_point_layer: 2 }, /- hook_point \/ hook_point_layer: .*layer 3 but hook_point_layer is 2/],
  ['layer list without placeholder', { hook_point: 'blocks.0.hook_resid_pre', hook_point_layer: [0, 1] }, /- hook_point: hook_point_layer is a list \[0, 1\], so hook_point must contain \{layer\}/],
  ['decay to zero', { lr_scheduler_name: 'cosineannealing', lr_warm_up_steps: 0, lr_decay_steps: 10, lr_end: 0 }, /- lr_decay_steps \/ lr_end: cannot decay from lr_end=0/],
  ['schedule longer than training', { lr_scheduler_name: 'cosineannealingwarmrestarts' }, /- lr_scheduler_name \/ n_restart_cycles: cosineannealingwarmrestarts needs at least one step per restart cycle \(1\) after warm-up \(500\) and decay \(0\), but training has only 488 steps/],
  ['warm-up + decay too long', { lr_decay_steps: 100 }, /- lr_warm_up_steps \/ lr_decay_steps: warm-up \(500\) \+ decay \(100\) steps exceed the 488 training steps/],
  ['unsupported dtype', { dtype: 'torch.float16' }, /- dtype: expected "float32" \(sae-rx trains in float32 only\), got "torch.float16"/],
  ['list in a non-sweep field', { d_in: [512, 768] }, /- d_in: expected a positive integer, got a list \[512,768\] \(this field cannot be swept\)/],
  ['bad sweep element', { l1_coefficient: [1e-3, 'x'] }, /- l1_coefficient\[1\]: expected a number >= 0, got "x"/],
  ['empty sweep', { lr: [] }, /- lr: expected .* got an empty list/],
  ['buffer too small', { n_batches_in_buffer: 1 }, /- n_batches_in_buffer: expected an integer >= 2/],
  ['not an object', [1, 2], /- \(root\): expected an object of settings, got a list/],
];

for (const [name, raw, re] of mistakes) {
  test(`mistake: ${name}`, (t) => {
    const msg = errorOf(t, raw);
    t.regex(msg, re);
    t.regex(msg, /^Invalid language-model SAE runner config \(\d+ problems?\):\n/);
  });
}

test('every problem is listed at once, and the error carries them', (t) => {
  const e = t.throws(() => decodeRunnerConfig({ lr: 0, d_in: -1, activation_fn: 1, foo_bar_baz: 1 }), {
    instanceOf: RunnerConfigError,
  });
  t.is(e!.problems.length, 4);
  t.deepEqual(e!.problems.map((p) => p.path).sort(), ['activation_fn', 'd_in', 'foo_bar_baz', 'lr']);
  t.regex(e!.message, /foo_bar_baz: unknown key \(known keys: model_name, /);
});

test('secrets in a config never reach the error message', (t) => {
  const msg = errorOf(t, { wandb_api_key: 'b'.repeat(40), hf_token: 'hf_abcdefghijklmnopqrstuvwxyz0123456789' });
  t.regex(msg, /wandb_api_key: unknown key/);
  t.false(msg.includes('bbbbbbbb'));
  t.false(msg.includes('hf_abcdef'));
});

test('closest-key suggestions', (t) => {
  const keys = ['l1_coefficient', 'lr', 'lr_end', 'lp_norm', 'expansion_factor'];
  t.is(closestKey('l1_coeficient', keys), 'l1_coefficient');
  t.is(closestKey('expansionFactor', keys), 'expansion_factor');
  t.is(closestKey('lr-end', keys), 'lr_end');
  t.is(closestKey('completely_unrelated_thing', keys), undefined);
});

// --- sweeps -----------------------------------------------------------------

test('sweep expands to the cartesian product with distinct SAELens ids', (t) => {
  const cfg = decodeRunnerConfig(
    { l1_coefficient: [1e-3, 5e-5], lr: [3e-4, 1e-5], expansion_factor: [4, 8], hook_point_layer: [0, 1] },
    'language_model',
    fixedId,
  );
  t.true(isSweep(cfg));
  t.is(cfg.d_sae, null);
  t.is(cfg.run_name, 'None-L1-[0.001, 5e-05]-LR-[0.0003, 1e-05]-Tokens-2.000e+06');
  const singles = expandSweep(cfg);
  t.is(singles.length, 16);
  t.is(new Set(singles.map((s) => s.sae_id)).size, 16);
  // itertools.product order: field order, last varying fastest.
  t.deepEqual(singles[0]!.sweep_values, { hook_point_layer: 0, expansion_factor: 4, l1_coefficient: 1e-3, lr: 3e-4 });
  t.deepEqual(singles[1]!.sweep_values, { hook_point_layer: 0, expansion_factor: 4, l1_coefficient: 1e-3, lr: 1e-5 });
  const last = singles[15]!;
  t.is(last.hook_point, 'blocks.1.hook_mlp_out');
  t.is(last.hook_point_eval, 'blocks.1.attn.pattern');
  t.is(last.d_sae, 4096);
  t.is(last.lr_end, 1e-5 / 10);
  t.is(
    last.sae_id,
    'gelu-2l_blocks.1.hook_mlp_out_4096_hook_point_layer_1_expansion_factor_8_l1_coefficient_5e-05_lr_1e-05',
  );
  t.is(last.wandb_suffix, '_layer1_expansion_factor8_coeff5e-05_lr1e-05');
  // No lists: one config, SAELens's name without the trailing '_' SAELens leaves there (#11 item 8).
  const one = expandSweep(decodeRunnerConfig({}, 'language_model', fixedId));
  t.is(one.length, 1);
  t.is(one[0]!.sae_id, 'gelu-2l_blocks.0.hook_mlp_out_2048');
  t.is(one[0]!.wandb_suffix, '');
});

test('a d_sae list sweeps widths; a bad combination is reported with its values', (t) => {
  const singles = expandSweep(decodeRunnerConfig({ d_in: 64, d_sae: [128, 256] }, 'language_model', fixedId));
  t.deepEqual(singles.map((s) => [s.d_sae, s.expansion_factor]), [[128, 2], [256, 4]]);
  const msg = errorOf(t, {
    lr_scheduler_name: ['constant', 'cosineannealingwarmrestarts'], training_tokens: 4096 * 100, lr_warm_up_steps: 100,
  });
  t.regex(msg, /cosineannealingwarmrestarts needs at least one step .*\(sweep values \{"lr_scheduler_name":"cosineannealingwarmrestarts"\}\)/);
  t.notRegex(msg, /"constant"\}/);
});

// --- files and overrides ------------------------------------------------------

test('YAML file + CLI overrides', async (t) => {
  const raw = await loadConfigFile(join(fixtures, 'sweep.yaml'));
  t.is(raw.training_tokens, 1_000_000, 'YAML 1_000_000 is a number');
  const over = applyOverrides(raw, {
    '--l1-coefficient': '1e-3,5e-3,1e-2',
    'lr': '1e-4',
    'trainBatchSize': '2048',
    'wandb-id': '12345678',
    'log_to_wandb': 'False',
    'lr-end': 'None',
    'model_kwargs.center_writing_weights': 'false',
  });
  t.deepEqual(over.l1_coefficient, [1e-3, 5e-3, 1e-2]);
  t.is(over.lr, 1e-4);
  t.is(over.train_batch_size, 2048);
  t.is(over.wandb_id, '12345678', 'a string field keeps a numeric-looking string');
  t.is(over.log_to_wandb, false);
  t.is(over.lr_end, null);
  t.deepEqual(over.model_kwargs, { center_writing_weights: false });
  t.deepEqual(raw.l1_coefficient, [1e-3, 5e-3], 'the input is not modified');
  const cfg = decodeRunnerConfig(over);
  t.is(cfg.lr_scheduler_name, 'cosineannealing');
  t.is(cfg.checkpoint_path, 'checkpoints/12345678');
  const singles = expandSweep(cfg);
  t.is(singles.length, 6);
  t.deepEqual(new Set(singles.map((s) => s.hook_point)), new Set(['blocks.0.hook_resid_pre', 'blocks.1.hook_resid_pre']));
  t.true(singles.every((s) => s.d_sae === 512 && s.total_training_steps === Math.floor(1e6 / 2048)));
});

test('JSON files, and unreadable files name the file', async (t) => {
  const dir = tempDir(t, 'sae-rx-config-');
  await writeFile(join(dir, 'a.json'), JSON.stringify({ lr: 1e-3 }));
  t.deepEqual(await loadConfigFile(join(dir, 'a.json')), { lr: 1e-3 });
  await writeFile(join(dir, 'b.json'), '{ "lr": ');
  await t.throwsAsync(loadConfigFile(join(dir, 'b.json')), { instanceOf: ConfigError, message: /b\.json: not valid JSON/ });
  await writeFile(join(dir, 'c.yaml'), '- 1\n- 2\n');
  await t.throwsAsync(loadConfigFile(join(dir, 'c.yaml')), { message: /c\.yaml: expected a mapping of settings/ });
  await t.throwsAsync(loadConfigFile(join(dir, 'missing.yaml')), { message: /missing\.yaml: cannot read config file/ });
});

// --- mapping ----------------------------------------------------------------

test('defaults map onto the shared SaeConfig / TrainerConfig defaults', (t) => {
  const [single] = expandSweep(decodeRunnerConfig({}, 'language_model', fixedId));
  t.deepEqual(toSaeConfig(single!), DEFAULT_SAE_CONFIG);
  const tr = toTrainerConfig(single!);
  for (const [k, v] of Object.entries(DEFAULT_TRAINER_CONFIG)) {
    if (k === 'lrEnd') t.is(tr.lrEnd, 3e-4 / 10, 'lrEnd is derived (lr / 10)');
    else t.deepEqual(tr[k as keyof typeof tr], v, k);
  }
});

test('mapping carries every SAELens field to its camelCase name', (t) => {
  const cfg = decodeRunnerConfig({
    d_in: 64, expansion_factor: 2, activation_fn: 'tanh-relu', apply_b_dec_to_input: false, normalize_sae_decoder: false,
    decoder_heuristic_init: true, scale_sparsity_penalty_by_decoder_norm: true, b_dec_init_method: 'mean',
    noise_scale: 0.1, mse_loss_normalization: 'dense_batch', lp_norm: 2, use_ghost_grads: true,
    model_name: 'pythia-70m', hook_point: 'blocks.{layer}.attn.hook_z', hook_point_layer: 2, hook_point_head_index: 1,
    context_size: 64, prepend_bos: false, seed: 7, lr: 1e-3, lr_scheduler_name: 'cosineannealingwarmrestarts',
    lr_warm_up_steps: 10, lr_end: 1e-5, lr_decay_steps: 20, n_restart_cycles: 3, adam_beta1: 0.9, adam_beta2: 0.99,
    l1_coefficient: 5, l1_warm_up_steps: 30, training_tokens: 100 * 256 + 100, finetuning_tokens: 2 * 256,
    train_batch_size: 256, feature_sampling_window: 50, dead_feature_window: 40, dead_feature_threshold: 1e-6,
    finetuning_method: 'decoder', wandb_log_frequency: 5, eval_every_n_wandb_logs: 7, n_checkpoints: 3,
  });
  const [s] = expandSweep(cfg);
  t.deepEqual(toSaeConfig(s!), {
    architecture: 'standard', dIn: 64, dSae: 128, activationFn: 'tanh-relu', applyBDecToInput: false,
    normalizeSaeDecoder: false, decoderOrthogonalInit: false, decoderHeuristicInit: true,
    initEncoderAsDecoderTranspose: false, bDecInitMethod: 'mean', noiseScale: 0.1, mseLossNormalization: 'dense_batch',
    lpNorm: 2, scaleSparsityPenaltyByDecoderNorm: true, useGhostGrads: true, modelName: 'pythia-70m',
    hookPoint: 'blocks.2.attn.hook_z', hookPointLayer: 2, hookPointHeadIndex: 1, contextSize: 64, prependBos: false,
    dtype: 'float32', seed: 7,
  });
  t.deepEqual(toTrainerConfig(s!), {
    lr: 1e-3, lrSchedulerName: 'cosineannealingwarmrestarts', lrWarmUpSteps: 10, lrEnd: 1e-5, lrDecaySteps: 20,
    nRestartCycles: 3, adamBeta1: 0.9, adamBeta2: 0.99, l1Coefficient: 5, l1WarmUpSteps: 30, trainBatchSize: 256,
    totalTrainingSteps: 100, featureSamplingWindow: 50, deadFeatureWindow: 40, deadFeatureThreshold: 1e-6,
    useGhostGrads: true, finetuningMethod: 'decoder',
    // (25700 + 512) // 256 = 102 = 100 training + 2 fine-tuning steps, as SAELens's horizon.
    finetuningSteps: 2, trainingTokens: 25700, finetuningTokens: 512, wandbLogFrequency: 5, evalEveryNWandbLogs: 7,
    nCheckpoints: 3,
  });
  t.throws(() => toSaeConfig(decodeRunnerConfig({ lr: [1e-3, 1e-4] }) as never), { message: /lr is a list .*expandSweep/ });
  const toy = decodeRunnerConfig({ n_hidden: 3, d_sae: 10 }, 'toy_model');
  t.like(toSaeConfig(toy), { dIn: 3, dSae: 10, modelName: 'toy_model' });
  t.like(toTrainerConfig(toy), { totalTrainingSteps: Math.floor(25_000 / 1024), adamBeta1: 0.9, lr: 3e-4 });
});

// --- codecs, encoding, secrets, python formatting ------------------------------

test('io-ts codec decodes, reports messages, and encodes to SAELens keys', (t) => {
  const r = LanguageModelSaeRunnerConfigCodec.decode({ lr: 'x' });
  t.true(isLeft(r));
  if (isLeft(r)) t.regex(r.left[0]!.message!, /^lr: expected a positive number/);
  const cfg = decodeRunnerConfig({ wandb_id: 'w1' });
  const enc = encodeRunnerConfig(cfg);
  t.is(enc.d_sae, 2048);
  t.is(enc.tokens_per_buffer, cfg.tokens_per_buffer);
  t.false('run_id' in enc);
  t.false('total_training_steps' in enc);
  t.is(enc.dtype, 'torch.float32', 'as SAELens writes it');
  // What is written reads back (checkpoint id not appended twice when asked).
  const back = decodeRunnerConfig(enc, 'language_model', { appendRunIdToCheckpointPath: false });
  t.deepEqual({ ...back, run_id: 'w1' }, cfg);
});

test('redactSecrets masks HF tokens and W&B keys anywhere', (t) => {
  const hf = 'hf_' + 'A1b2C3d4E5'.repeat(4);
  const wb = '0123456789abcdef0123456789abcdef01234567';
  const red = redactSecrets({
    hf_token: hf, model_kwargs: { token: 'secret-value', bos_token: '<s>' }, WANDB_API_KEY: wb,
    nested: [{ apiKey: 'k-123456' }, `url?key=${wb}`], note: `token is ${hf}`, hf_token_null: null, lr: 1e-3,
    wandb: { api_key: null }, password: 'p',
  });
  const s = JSON.stringify(red);
  t.false(s.includes(hf));
  t.false(s.includes(wb));
  t.false(s.includes('secret-value'));
  t.false(s.includes('k-123456'));
  t.is((red.model_kwargs as Record<string, unknown>).bos_token, '<s>');
  t.is(red.lr, 1e-3);
  t.deepEqual(red.wandb, { api_key: null }, 'no key stays visible as null');
  t.is(red.password, '***');
  t.is(redactSecrets('plain text'), 'plain text');
  t.is(redactSecrets({ a: 'my-key-xyz' }, ['my-key-xyz']).a, '***');
});

test('python formatting of run names', (t) => {
  t.is(pyFloat(1e-3), '0.001');
  t.is(pyFloat(1e-4), '0.0001');
  t.is(pyFloat(5e-5), '5e-05');
  t.is(pyFloat(1.5e16), '1.5e+16');
  t.is(pyFloat(123.25), '123.25');
  t.is(pyFloat(-2.5e-7), '-2.5e-07');
  t.is(pyStr([1e-3, 'a', true, null]), "[0.001, 'a', True, None]");
  t.is(pyExp3(2_000_000), '2.000e+06');
  t.is(pyExp3(123), '1.230e+02');
});

// --- against SAELens v1.5.0's own dataclasses (scripts/reference/saelens_config.py) ----------

test('decoded configs equal what SAELens v1.5.0 __post_init__ derives', (t) => {
  const ref = fixture('saelens-1.5.0-post-init.json') as unknown as Record<
    'language_model' | 'cache_activations',
    Array<{ kwargs: Record<string, unknown>; result?: Record<string, unknown>; error?: string }>
  >;
  const errorFields: Array<[RegExp, RegExp]> = [
    [/heuristic initialization/, /normalize_sae_decoder \/ decoder_heuristic_init/],
    [/Weighting loss by decoder norm/, /normalize_sae_decoder \/ scale_sparsity_penalty_by_decoder_norm/],
    [/fine tuning the decoder/, /finetuning_method \/ apply_b_dec_to_input/],
    [/b_dec_init_method must be/, /- b_dec_init_method: expected one of/],
  ];
  let compared = 0;
  for (const c of ref.language_model) {
    if (c.error) {
      // SAELens v1.5.0 rejects its own default dtype "float32" (DTYPE_MAP only has "torch.*"); sae-rx accepts both.
      if (/dtype must be one of/.test(c.error)) {
        t.notThrows(() => decodeRunnerConfig(c.kwargs));
        continue;
      }
      const pair = errorFields.find(([py]) => py.test(c.error!));
      t.truthy(pair, c.error);
      t.regex(errorOf(t, c.kwargs), pair![1]);
      continue;
    }
    const ours = decodeRunnerConfig(c.kwargs, 'language_model', fixedId) as unknown as Record<string, unknown>;
    for (const [k, v] of Object.entries(c.result!)) {
      if (k === 'dtype') t.is(ours.dtype === 'float32' ? 'torch.float32' : ours.dtype, v, k);
      // A swept lr: SAELens makes lr_end a list that then sweeps as its own axis; sae-rx keeps null and derives lr/10 per SAE.
      else if (k === 'lr_end' && Array.isArray(v)) t.is(ours.lr_end, null);
      else t.deepEqual(ours[k], v, k);
      compared++;
    }
  }
  for (const c of ref.cache_activations) {
    const ours = decodeRunnerConfig(c.kwargs, 'cache_activations') as unknown as Record<string, unknown>;
    for (const [k, v] of Object.entries(c.result!)) {
      if (k === 'dtype') continue; // the cache config's "float32" is kept as a string by SAELens
      t.deepEqual(ours[k], v, k);
      compared++;
    }
  }
  t.true(compared > 200, `compared ${compared} fields`);
});
