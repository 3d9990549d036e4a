/**
 * The architecture seam: the registry rejects duplicates and unknown names, and every registered
 * architecture builds, runs its inference forward pass and its training forward pass with the
 * parameters it declares (names, shapes), without leaking tensors.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { setupTf } from '../helpers/tf.js';
import { ARCHITECTURES, architectureOf, checkFieldTables, checkUniqueNames } from '../../src/sae/architectures/registry.js';
import { tableDefaults } from '../../src/config/fields.js';
import { Sae } from '../../src/sae/Sae.js';
import { DEFAULT_SAE_CONFIG, type SaeConfig } from '../../src/sae/SaeConfig.js';
import { SaeTrainer } from '../../src/train/SaeTrainer.js';
import { DEFAULT_TRAINER_CONFIG } from '../../src/train/TrainerConfig.js';

test.before(async () => {
  await setupTf();
});

/** Fields a test SAE needs beyond its architecture's defaults (small k, matryoshka widths). */
const OVERRIDES_: Record<string, Record<string, unknown>> = {
  topk: { k: 4 },
  batchtopk: { k: 4 },
  matryoshka_batchtopk: { k: 4, matryoshka_widths: [8, 24, 32] },
  topk_transcoder: { k: 4 },
  topk_skip_transcoder: { k: 4 },
  batchtopk_transcoder: { k: 4 },
  batchtopk_skip_transcoder: { k: 4 },
};

/** A transcoder's output width in these tests (≠ d_in, so a d_in-wide assumption shows). */
const D_OUT = 6;

function testConfig(name: string, dIn = 8, dSae = 32): SaeConfig {
  const arch = architectureOf(name);
  const fields = { ...tableDefaults(arch.fields), ...(OVERRIDES_[name] ?? {}) };
  const v15 = name === 'standard';
  const tc = arch.transcoder ? { dOut: D_OUT, applyBDecToInput: false } : {};
  return { ...DEFAULT_SAE_CONFIG, architecture: name, dIn, dSae, bDecInitMethod: 'zeros', normalizeSaeDecoder: v15, archFields: v15 ? {} : fields, ...tc };
}

test('the registry rejects a name registered twice and names the known ones for an unknown name', (t) => {
  t.throws(() => checkUniqueNames([ARCHITECTURES[0]!, ARCHITECTURES[0]!]), { message: /registered twice/ });
  t.notThrows(() => checkUniqueNames(ARCHITECTURES));
  const e = t.throws(() => architectureOf('nope'));
  t.regex(e!.message, /unknown 'nope'.*standard/);
  t.throws(() => Sae.create({ ...DEFAULT_SAE_CONFIG, architecture: 'nope' }), { message: /architecture: unknown 'nope'/ });
});

test('every architecture declares the field table that fieldTables.ts registers for configs (decoded without the registry)', (t) => {
  t.notThrows(() => checkFieldTables(ARCHITECTURES));
  const topk = architectureOf('topk');
  t.throws(() => checkFieldTables([...ARCHITECTURES.filter((a) => a !== topk), { ...topk, fields: { ...topk.fields } }]), { message: /'topk' declares other fields than its table/ });
  t.throws(() => checkFieldTables([...ARCHITECTURES, { ...topk, name: 'topk_new' }]), { message: /'topk_new' has no field table/ });
  t.throws(() => checkFieldTables(ARCHITECTURES.filter((a) => a !== topk)), { message: /tables for topk, which are not registered/ });
  t.throws(() => checkFieldTables(ARCHITECTURES.map((a) => (a === topk ? { ...topk, transcoder: true } : a))), { message: /'topk' is a transcoder but fieldTables.ts says otherwise/ });
});

for (const arch of ARCHITECTURES) {
  test(`${arch.name}: declared parameters, inference and training forward, one trainer step, no leaks`, (t) => {
    const cfg = testConfig(arch.name);
    const before = tf.memory().numTensors;
    const sae = Sae.create(cfg, { seed: 3 });
    const specs = arch.params(cfg);
    t.deepEqual(sae.paramNames(), specs.map((s) => s.name));
    for (const s of specs) t.deepEqual(sae.param(s.name).shape, [...s.shape], s.name);
    const x = tf.randomNormal([16, cfg.dIn], 0, 1, 'float32', 7) as tf.Tensor2D;
    const f = sae.forward(x);
    t.deepEqual(f.out.shape, [16, cfg.dOut ?? cfg.dIn]);
    t.deepEqual(f.featureActs.shape, [16, cfg.dSae]);
    tf.dispose(Object.values(f));
    const tr = new SaeTrainer(sae, { ...DEFAULT_TRAINER_CONFIG, lrWarmUpSteps: 0, totalTrainingSteps: 10, trainBatchSize: 16 });
    // a transcoder trains towards a target of its own width; an SAE towards its input
    const y = arch.transcoder ? (tf.randomNormal([16, D_OUT], 0, 1, 'float32', 8) as tf.Tensor2D) : undefined;
    const m = tr.step(x, y);
    y?.dispose();
    t.true(Number.isFinite(m.terms['overall_loss']!) && 'mse_loss' in m.terms, JSON.stringify(m.terms));
    const sum = Object.entries(m.terms).filter(([k]) => k !== 'overall_loss').reduce((a, [, v]) => a + v, 0);
    t.true(Math.abs(sum - m.terms['overall_loss']!) <= 1e-5 * Math.abs(sum) + 1e-7, 'overall_loss is the sum of the terms');
    // a snapshot restores into an identical SAE (parameters and state by name)
    const snap = sae.snapshot();
    const back = Sae.fromWeights(cfg, snap);
    t.deepEqual(back.snapshot().params, snap.params);
    t.deepEqual(back.state, sae.state);
    back.dispose();
    tr.dispose();
    sae.dispose();
    x.dispose();
    t.is(tf.memory().numTensors, before);
  });
}

test('snapshot accessors name the architecture when a parameter is absent', (t) => {
  const sae = Sae.create(testConfig('standard'));
  const snap = sae.snapshot();
  t.throws(() => snap.get('threshold'), { message: /'standard' SAE has no parameter threshold/ });
  t.throws(() => sae.param('threshold'), { message: /no parameter threshold/ });
  sae.dispose();
});
