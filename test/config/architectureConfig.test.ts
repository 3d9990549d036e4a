/**
 * Runner configs with SAE architectures: the flat (v1.5-style) config with `architecture` and
 * the architecture's own fields, SAELens 6's nested runner config (`sae:` block, `logger:`),
 * errors for fields of another architecture, and the mapping onto SaeConfig / TrainerConfig.
 */
import test from 'ava';
import { ARCHITECTURES } from '../../src/sae/architectures/registry.js';
import { decodeRunnerConfig } from '../../src/config/runnerConfig.js';
import { expandSweep } from '../../src/config/sweep.js';
import { applyOverrides } from '../../src/config/files.js';
import { toSaeConfig, toTrainerConfig } from '../../src/runners/configMapping.js';

const lm = (raw: Record<string, unknown>) => decodeRunnerConfig({ log_to_wandb: false, ...raw }, 'language_model', { generateId: () => 'abcdefgh' });

test('a flat config without architecture is the v1.5 standard SAE, unchanged', (t) => {
  const c = lm({ d_in: 16 });
  t.is(c.architecture, undefined, 'nothing added to a v1.5 config (its cfg.json stays loadable by SAELens v1.5)');
  const sae = toSaeConfig(expandSweep(c)[0]!);
  t.is(sae.architecture, 'standard');
  t.is(sae.archFields, undefined);
  t.true(sae.normalizeSaeDecoder);
});

test('a flat config names an architecture and its fields; defaults fill the rest', (t) => {
  const c = lm({ d_in: 16, expansion_factor: 4, architecture: 'topk', k: 8 });
  const sae = toSaeConfig(expandSweep(c)[0]!);
  t.is(sae.architecture, 'topk');
  t.deepEqual(sae.archFields, { decoder_init_norm: 0.1, aux_loss_coefficient: 1, rescale_acts_by_decoder_norm: true, use_sparse_activations: false, k: 8 });
  t.false(sae.normalizeSaeDecoder, 'no v1.5 decoder normalisation for SAELens 6 architectures');
  t.is(sae.bDecInitMethod, 'zeros');
  const v6 = toSaeConfig(expandSweep(lm({ d_in: 16, architecture: 'standard_v6', l1_coefficient: 3 }))[0]!);
  t.is(v6.archFields!['l1_coefficient'], 3, 'standard_v6 reads the runner l1 fields');
});

test('a field of another architecture is an error that names which architectures have it', (t) => {
  const e1 = t.throws(() => lm({ d_in: 16, architecture: 'topk', topk_threshold_lr: 0.1 }));
  t.regex(e1!.message, /topk_threshold_lr: is a field of architecture 'batchtopk', 'matryoshka_batchtopk', 'batchtopk_transcoder', 'batchtopk_skip_transcoder', not of 'topk'/);
  const e2 = t.throws(() => lm({ d_in: 16, k: 8 }));
  t.regex(e2!.message, /k: is a field of architecture 'topk', 'batchtopk', 'matryoshka_batchtopk', 'topk_transcoder', .*, not of 'standard'/);
  const e3 = t.throws(() => lm({ d_in: 16, architecture: 'batchtopk', use_ghost_grads: true, l1_coefficient: 1 }));
  t.regex(e3!.message, /use_ghost_grads: is a field of architecture 'standard' \(SAELens v1.5's SAE\), not of 'batchtopk'/);
  t.regex(e3!.message, /l1_coefficient: is a field of architecture 'standard', 'standard_v6'/);
  const e4 = t.throws(() => lm({ architecture: 'topkk' }));
  t.regex(e4!.message, /architecture: expected one of standard \| .*topk.*did you mean topk/);
  const e5 = t.throws(() => lm({ architecture: 'topk', k: 2.5 }));
  t.regex(e5!.message, /k: expected a positive integer, got 2.5/);
});

test("SAELens 6's nested runner config: sae block, logger block, renamed fields, SAELens 6 defaults", (t) => {
  const c = lm({
    model_name: 'tiny-stories-1M', hook_name: 'blocks.1.hook_resid_post', dataset_path: 'x/y', context_size: 64,
    train_batch_size_tokens: 1024, store_batch_size_prompts: 8, training_tokens: 40960, lr: 1e-3,
    sae: { architecture: 'batchtopk', d_in: 64, d_sae: 256, k: 16, apply_b_dec_to_input: false },
    logger: { log_to_wandb: false, wandb_project: 'p' }, autocast: false,
  });
  t.is(c.architecture, 'batchtopk');
  const single = expandSweep(c)[0]!;
  t.is(single.hook_point, 'blocks.1.hook_resid_post');
  t.is(single.train_batch_size, 1024);
  t.is(single.store_batch_size, 8);
  t.is(single.wandb_project, 'p');
  t.is(single.adam_beta1, 0.9, "SAELens 6's Adam β1");
  t.is(single.lr_warm_up_steps, 0);
  const sae = toSaeConfig(single);
  t.is(sae.dSae, 256);
  t.false(sae.applyBDecToInput);
  t.is(sae.archFields!['k'], 16);
  t.is(toTrainerConfig(single).totalTrainingSteps, 40);
  const std = lm({ sae: { architecture: 'standard', d_in: 16, d_sae: 64 } });
  t.is(std.architecture, 'standard_v6', "a sae: block's standard is SAELens 6's standard SAE");
  t.is(toSaeConfig(expandSweep(std)[0]!).archFields!['l1_coefficient'], 1, "SAELens 6's l1_coefficient default");
  const bad = t.throws(() => lm({ sae: { architecture: 'topk', d_in: 16, d_sae: 64, topk_threshold_lr: 0.1 }, autocast: true }));
  t.regex(bad!.message, /autocast: SAELens 6 field not supported/);
  t.regex(bad!.message, /topk_threshold_lr: is a field of architecture 'batchtopk'/);
});

test('command-line overrides reach architecture fields (--architecture, --k, --matryoshka-widths)', (t) => {
  const raw = applyOverrides({ d_in: 16 }, { '--architecture': 'matryoshka_batchtopk', '--k': '4', '--matryoshka-widths': '[8,32]' });
  const sae = toSaeConfig(expandSweep(lm(raw))[0]!);
  t.is(sae.architecture, 'matryoshka_batchtopk');
  t.deepEqual(sae.archFields!['matryoshka_widths'], [8, 32]);
});

test('toy runner configs take architectures too', (t) => {
  const c = decodeRunnerConfig({ architecture: 'batchtopk', k: 2, n_features: 10, n_hidden: 5, d_sae: 20 }, 'toy_model');
  const sae = toSaeConfig(c);
  t.is(sae.architecture, 'batchtopk');
  t.is(sae.archFields!['k'], 2);
  t.true(ARCHITECTURES.length >= 5);
});
