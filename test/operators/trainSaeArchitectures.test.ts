/**
 * Every registered architecture trains through `trainSae` on a toy-model activation stream:
 * step records carry its loss terms under SAELens 6's names (and, past v1.5's SAE, its
 * architecture and coefficients), checkpoints keep its parameters and state by name, and the
 * final SAE is handed to the folder writer, whose save conversion gives what SAELens saves
 * (topk folded, batchtopk/matryoshka as jumprelu). No tensor is left behind.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { firstValueFrom, map, toArray } from 'rxjs';
import { setupTf } from '../helpers/tf.js';
import { tableDefaults } from '../../src/config/fields.js';
import { ARCHITECTURES } from '../../src/sae/architectures/registry.js';
import type { SaeSnapshot } from '../../src/sae/Sae.js';
import { trainSae } from '../../src/operators/trainSae.js';
import { toyActivations } from '../../src/sources/toyActivations.js';
import { toyModel } from '../../src/sources/toyModel.js';
import type { StepRecord, TrainEvent } from '../../src/stream/TrainEvent.js';
import { readCheckpointState } from '../../src/train/checkpointWriter.js';
import { spec } from './trainSaeHelpers.js';

let tmp: string;
test.before(async () => {
  await setupTf();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sae-rx-arch-train-'));
});
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

const FIELDS: Record<string, Record<string, unknown>> = {
  topk: { k: 2 },
  batchtopk: { k: 2 },
  matryoshka_batchtopk: { k: 2, matryoshka_widths: [4, 16] },
  jumprelu: { l0_coefficient: 0.01, pre_act_loss_coefficient: 0.01 },
};
// a transcoder is its base architecture with another output: the same fields, terms and save
const BASE: Record<string, string> = {
  transcoder: 'standard_v6', skip_transcoder: 'standard_v6', jumprelu_transcoder: 'jumprelu', jumprelu_skip_transcoder: 'jumprelu',
  topk_transcoder: 'topk', topk_skip_transcoder: 'topk', batchtopk_transcoder: 'batchtopk', batchtopk_skip_transcoder: 'batchtopk',
};
const base = (name: string) => BASE[name] ?? name;
/** The transcoders' output width here (the toy model's hidden layer is 4 wide). */
const D_OUT = 3;
const TERMS: Record<string, string[]> = {
  standard: ['mse', 'l1', 'ghost', 'total'],
  standard_v6: ['mse', 'l1', 'total'],
  topk: ['mse', 'total', 'auxiliary_reconstruction_loss'],
  batchtopk: ['mse', 'total', 'auxiliary_reconstruction_loss'],
  matryoshka_batchtopk: ['mse', 'total', 'auxiliary_reconstruction_loss', 'inner_mse_loss_4'],
  jumprelu: ['mse', 'total', 'l0_loss', 'pre_act_loss'],
  gated: ['mse', 'l1', 'total', 'auxiliary_reconstruction_loss'],
};
const SAVED_AS: Record<string, string> = {
  standard: 'standard', standard_v6: 'standard', topk: 'topk', batchtopk: 'jumprelu', matryoshka_batchtopk: 'jumprelu', jumprelu: 'jumprelu', gated: 'gated',
  transcoder: 'transcoder', skip_transcoder: 'skip_transcoder', jumprelu_transcoder: 'jumprelu_transcoder', jumprelu_skip_transcoder: 'jumprelu_skip_transcoder',
  topk_transcoder: 'topk_transcoder', topk_skip_transcoder: 'topk_skip_transcoder', batchtopk_transcoder: 'jumprelu_transcoder', batchtopk_skip_transcoder: 'jumprelu_skip_transcoder',
};

for (const arch of ARCHITECTURES) {
  test.serial(`${arch.name} trains through trainSae: records, checkpoint by name, save conversion`, async (t) => {
    const model = toyModel({ nFeatures: 8, nHidden: 4, featureProbability: 0.1 });
    const v15 = arch.name === 'standard';
    const tc = arch.transcoder === true;
    const s = spec({
      sae: {
        architecture: arch.name, dSae: 16, normalizeSaeDecoder: v15, bDecInitMethod: v15 || tc ? 'mean' : 'zeros',
        ...(v15 ? {} : { archFields: { ...tableDefaults(arch.fields), ...(FIELDS[base(arch.name)] ?? {}) } }),
        ...(tc ? { dOut: D_OUT, applyBDecToInput: false, hookPointOut: 'toy_target' } : {}),
      },
      trainer: { totalTrainingSteps: 12, deadFeatureWindow: 3, featureSamplingWindow: 5 },
    });
    const saved: Array<{ save: ReturnType<typeof arch.toInference> }> = [];
    // stands in for the SAE area's folder writer: the conversion it applies, and two files
    const writer = (dir: string, snap: SaeSnapshot) => {
      const save = arch.toInference(snap.cfg, snap.params, snap.state);
      saved.push({ save });
      fs.writeFileSync(path.join(dir, 'cfg.json'), JSON.stringify({ architecture: save.architecture }));
      fs.writeFileSync(path.join(dir, 'sae_weights.safetensors'), 'x');
    };
    const before = tf.memory().numTensors;
    const dir = path.join(tmp, arch.name);
    const recs = (await firstValueFrom(
      toyActivations(model, { batchSize: 32, seed: 5 }).pipe(
        // a transcoder's target: a fixed linear map of the same rows, D_OUT wide
        map((b) => (tc ? { ...b, target: tf.tidy(() => tf.matMul(b.acts as tf.Tensor2D, tf.tensor2d([1, 0, -1, 0.5, 1, 0, 0, -0.5, 1, 1, 0, 0], [4, D_OUT]))), targetHook: 'toy_target' } : b)),
        trainSae(s, { checkpointPath: dir, nCheckpoints: 2, writeSaeFolder: writer, handleSignals: false, warn: () => {} }),
        toArray(),
      ),
    )) as TrainEvent[];
    t.is(tf.memory().numTensors, before, 'no tensors left');
    const steps = recs.filter((r): r is StepRecord => r.type === 'step');
    t.is(steps.length, 12);
    t.deepEqual(Object.keys(steps[0]!.losses).sort(), [...TERMS[base(arch.name)]!].sort(), 'the loss terms, by name');
    t.true(steps.every((r) => Number.isFinite(r.losses.total)));
    t.is(steps[0]!.architecture, v15 ? undefined : arch.name);
    if (arch.name.includes('topk')) t.true(steps.some((r) => r.deadFeatures > 0 && (r.losses['auxiliary_reconstruction_loss'] ?? 0) > 0), 'AuxK ran on dead latents');
    if (base(arch.name) === 'jumprelu') t.true(steps.some((r) => r.deadFeatures > 0 && (r.losses['pre_act_loss'] ?? 0) > 0), 'the pre-activation loss ran on dead latents');
    const done = recs.find((r) => r.type === 'done');
    t.truthy(done && done.type === 'done' && done.path);
    const final = saved[saved.length - 1]!;
    t.is(final.save.architecture, SAVED_AS[arch.name]);
    if (tc) t.deepEqual(final.save.weights['W_dec']!.shape, [16, D_OUT], 'the saved decoder is d_out wide');
    // the checkpoint keeps the trained parameters (and state) by name, before any conversion
    const ck = await readCheckpointState((done as { path: string }).path);
    t.deepEqual(Object.keys(ck.weights.params).sort(), arch.params(s.sae).map((p) => p.name).sort());
    if (arch.name.includes('batchtopk')) {
      t.true(ck.weights.state['topk_threshold']! > 0, 'the threshold EMA is checkpointed');
      t.true(final.save.weights['threshold']!.data.every((v) => v === Math.fround(ck.weights.state['topk_threshold']!)));
    }
  });
}
