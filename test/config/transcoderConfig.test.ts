/**
 * Transcoder fields in runner configs (SAELens 6's TranscoderConfig names): d_out, hook_name_out,
 * hook_layer_out, hook_head_index_out, in the flat config, in a SAELens 6 `sae:` block and as
 * command-line overrides; the errors for a transcoder without an output hook and an SAE with
 * one; the mapping onto SaeConfig; the cache runner's target hook.
 */
import test from 'ava';
import '../../src/sae/architectures/registry.js';
import { decodeRunnerConfig } from '../../src/config/runnerConfig.js';
import { expandSweep } from '../../src/config/sweep.js';
import { applyOverrides, runnerFieldTable } from '../../src/config/files.js';
import { ConfigError } from '../../src/errors.js';
import { toSaeConfig } from '../../src/runners/configMapping.js';

const lm = (raw: Record<string, unknown>) => decodeRunnerConfig({ log_to_wandb: false, ...raw }, 'language_model', { generateId: () => 'abcdefgh' });
const base = { d_in: 128, expansion_factor: 4, hook_point: 'blocks.1.ln2.hook_normalized' };

test('a flat transcoder config: hook_name_out, d_out (default d_in), the layer it names; SaeConfig gets the output side', (t) => {
  const c = lm({ ...base, architecture: 'transcoder', hook_name_out: 'blocks.1.hook_mlp_out' });
  t.is(c.hook_name_out, 'blocks.1.hook_mlp_out');
  t.is(c.d_out, 128, 'd_out defaults to d_in');
  t.is(c.hook_layer_out, 1, 'the layer hook_name_out names');
  t.is(c.hook_head_index_out, null);
  t.false(c.apply_b_dec_to_input, "a transcoder's b_dec is in the output space");
  const sae = toSaeConfig(expandSweep(c)[0]!);
  t.is(sae.architecture, 'transcoder');
  t.is(sae.dOut, 128);
  t.is(sae.hookPoint, 'blocks.1.ln2.hook_normalized');
  t.is(sae.hookPointOut, 'blocks.1.hook_mlp_out');
  t.is(sae.hookPointOutLayer, 1);
  t.is(sae.hookPointOutHeadIndex, null);
  const d = lm({ ...base, architecture: 'skip_transcoder', hook_name_out: 'blocks.1.hook_mlp_out', d_out: 128, hook_layer_out: 1 });
  t.is(toSaeConfig(expandSweep(d)[0]!).dOut, 128);
});

test('{layer} in hook_name_out takes hook_point_layer, per SAE of a sweep over other fields', (t) => {
  const c = lm({ d_in: 128, expansion_factor: 2, architecture: 'transcoder', hook_point: 'blocks.{layer}.ln2.hook_normalized', hook_point_layer: 0, hook_name_out: 'blocks.{layer}.hook_mlp_out', lr: [1e-4, 3e-4] });
  const singles = expandSweep(c);
  t.is(singles.length, 2);
  for (const s of singles) {
    t.is(s.hook_name_out, 'blocks.0.hook_mlp_out');
    t.is(s.hook_layer_out, 0);
    t.is(toSaeConfig(s).hookPointOut, 'blocks.0.hook_mlp_out');
  }
});

test('SAELens 6 runner config: the transcoder fields in the sae: block', (t) => {
  const c = lm({
    model_name: 'tiny-gpt2', hook_name: 'blocks.1.ln2.hook_normalized', training_tokens: 4096, train_batch_size_tokens: 256,
    sae: { architecture: 'jumprelu_transcoder', d_in: 128, d_sae: 256, d_out: 128, hook_name_out: 'blocks.1.hook_mlp_out', hook_layer_out: 1, apply_b_dec_to_input: false },
  });
  t.is(c.architecture, 'jumprelu_transcoder');
  t.is(c.hook_name_out, 'blocks.1.hook_mlp_out');
  t.is(c.d_out, 128);
  const sae = toSaeConfig(expandSweep(c)[0]!);
  t.is(sae.hookPointOut, 'blocks.1.hook_mlp_out');
  t.is(sae.dSae, 256);
});

test('errors name the field: a transcoder without hook_name_out, an SAE with transcoder fields, contradictions', (t) => {
  const e1 = t.throws(() => lm({ ...base, architecture: 'transcoder' }), { instanceOf: ConfigError });
  t.regex(e1!.message, /hook_name_out: architecture 'transcoder' is a transcoder: give the hook its output reconstructs/);
  const e2 = t.throws(() => lm({ ...base, architecture: 'topk', hook_name_out: 'blocks.1.hook_mlp_out' }), { instanceOf: ConfigError });
  t.regex(e2!.message, /hook_name_out: is a transcoder field; architecture 'topk' is an SAE/);
  t.regex(e2!.message, /jumprelu_transcoder/, 'names the transcoder architectures');
  const e3 = t.throws(() => lm({ ...base, d_out: 64 }), { instanceOf: ConfigError });
  t.regex(e3!.message, /d_out: is a transcoder field; architecture 'standard' is an SAE/);
  const e4 = t.throws(() => lm({ ...base, architecture: 'transcoder', hook_name_out: 'blocks.1.hook_mlp_out', hook_layer_out: 0 }), { instanceOf: ConfigError });
  t.regex(e4!.message, /hook_name_out \/ hook_layer_out: hook_name_out "blocks\.1\.hook_mlp_out" is in layer 1 but hook_layer_out is 0/);
  const e5 = t.throws(() => lm({ ...base, architecture: 'transcoder', hook_name_out: 'blocks.1.mlp_out' }), { instanceOf: ConfigError });
  t.regex(e5!.message, /hook_name_out: expected a hook name ending in a hook_\* point/);
  const e6 = t.throws(() => lm({ ...base, architecture: 'transcoder', hook_name_out: 'blocks.1.hook_mlp_out', apply_b_dec_to_input: true }), { instanceOf: ConfigError });
  t.regex(e6!.message, /apply_b_dec_to_input: a transcoder cannot subtract b_dec/);
  const e7 = t.throws(() => lm({ d_in: 128, architecture: 'transcoder', hook_point: 'blocks.{layer}.ln2.hook_normalized', hook_point_layer: [0, 1], hook_name_out: 'blocks.{layer}.hook_mlp_out' }), { instanceOf: ConfigError });
  t.regex(e7!.message, /hook_point_layer: a transcoder sweep cannot span layers/);
  const e8 = t.throws(() => lm({ ...base, architecture: 'transcoder', hook_name_out: 'blocks.1.hook_mlp_out', d_out: 0 }), { instanceOf: ConfigError });
  t.regex(e8!.message, /d_out/);
});

test('command-line overrides: --hook-name-out, --d-out are runner fields (what train --help lists)', (t) => {
  const table = runnerFieldTable('language_model');
  for (const k of ['d_out', 'hook_name_out', 'hook_layer_out', 'hook_head_index_out']) t.true(k in table, k);
  const raw = applyOverrides({ ...base, log_to_wandb: false }, { '--architecture': 'transcoder', '--hook-name-out': 'blocks.1.hook_mlp_out', '--d-out': '128' }, 'language_model');
  const c = lm(raw);
  t.is(c.hook_name_out, 'blocks.1.hook_mlp_out');
  t.is(c.d_out, 128);
});

test('an SAE config is unchanged: no transcoder keys in it (its cfg.json is what it was)', (t) => {
  const c = lm({ d_in: 16 }) as unknown as Record<string, unknown>;
  for (const k of ['d_out', 'hook_name_out', 'hook_layer_out', 'hook_head_index_out']) t.false(k in c, k);
  t.is(toSaeConfig(expandSweep(lm({ d_in: 16 }))[0]!).hookPointOut, undefined);
});

test('cache runner: hook_name_out stores a target hook; its other fields without it are an error', (t) => {
  const cacheBase = { d_in: 128, hook_point: 'blocks.1.ln2.hook_normalized' };
  const c = decodeRunnerConfig({ ...cacheBase, hook_name_out: 'blocks.1.hook_mlp_out' }, 'cache_activations');
  t.is(c.hook_name_out, 'blocks.1.hook_mlp_out');
  t.is(c.hook_layer_out, 1);
  t.is(c.d_out, null, 'd_out not given: the model says');
  const plain = decodeRunnerConfig({ ...cacheBase }, 'cache_activations') as unknown as Record<string, unknown>;
  t.false('hook_name_out' in plain);
  const e = t.throws(() => decodeRunnerConfig({ ...cacheBase, d_out: 128 }, 'cache_activations'), { instanceOf: ConfigError });
  t.regex(e!.message, /d_out: is a transcoder field for the target hook; give hook_name_out/);
});
