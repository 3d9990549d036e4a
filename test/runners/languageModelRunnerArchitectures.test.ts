/**
 * The language-model runner trains SAELens 6 architectures (`architecture:` in the runner
 * config) on the tiny real GPT-2, offline through the loopback hub: a few steps of `topk` and of
 * `jumprelu`; the saved folder says its architecture in cfg.json, and `loadSae` gives back an SAE
 * that computes what the live SAE computed at the last step, on a fixed batch.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useLmRunnerHub } from '../helpers/lmRunnerHub.js';
import { decodeRunnerConfig } from '../../src/config/runnerConfig.js';
import { TrainSaeHandle } from '../../src/operators/trainSae.js';
import { languageModelRunner } from '../../src/runners/languageModelRunner.js';
import { loadSae } from '../../src/sae/saeFolder.js';
import type { Sae } from '../../src/sae/Sae.js';
import type { TrainEvent } from '../../src/stream/TrainEvent.js';

const fixture = useLmRunnerHub({ what: 'language-model runner architecture', prefix: 'sae-rx-lmarch-', speeches: 4, rowGroupSize: 100 });
const t0 = fixture.t0;

const STEPS = 20;
const D_IN = 128;
const config = (extra: Record<string, unknown>) =>
  decodeRunnerConfig({
    model_name: 'owner/tiny-gpt2',
    hook_point: 'blocks.1.hook_resid_pre',
    hook_point_layer: 1,
    d_in: D_IN,
    expansion_factor: 2,
    dataset_path: 'owner/sotu-text',
    streaming: false,
    is_dataset_tokenized: false,
    context_size: 32,
    n_batches_in_buffer: 4,
    store_batch_size: 4,
    train_batch_size: 64,
    training_tokens: STEPS * 64,
    normalize_activations: 'none',
    lr: 1e-3,
    lr_warm_up_steps: 0,
    log_to_wandb: false,
    checkpoint_path: path.join(fixture.tmp(), 'checkpoints'),
    seed: 42,
    ...extra,
  });

interface Outputs {
  out: Float32Array;
  fired: Uint8Array;
}

/** The SAE's reconstruction of `x` and which latents fired, read back to the host. */
function outputsOf(sae: Sae, x: tf.Tensor2D): Outputs {
  const f = sae.forward(x);
  try {
    const acts = f.featureActs.dataSync();
    return { out: f.out.dataSync() as Float32Array, fired: Uint8Array.from(acts, (v) => (v > 0 ? 1 : 0)) };
  } finally {
    for (const v of Object.values(f)) if (v instanceof tf.Tensor) v.dispose();
  }
}

const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

for (const [architecture, fields] of [
  ['topk', { k: 8 }],
  ['jumprelu', { jumprelu_init_threshold: 0.001, l0_coefficient: 0.01 }],
] as const) {
  t0(`architecture ${architecture}: trains through the runner, saves cfg.json with it, loads back to the same outputs`, async (t) => {
    const before = tf.memory().numTensors;
    const handle = new TrainSaeHandle();
    // a fixed batch of the hook's width: large enough that some latents fire
    const x = tf.tidy(() => tf.mul(tf.randomNormal([16, D_IN], 0, 1, 'float32', 7), 3) as tf.Tensor2D);
    let live: Outputs | undefined;
    let lastStep = -1;
    const probe = {
      next: (r: TrainEvent) => {
        if (r.type !== 'step') return;
        const s = handle.saeOf(r.saeId);
        if (!s) return;
        live = outputsOf(s.sae, x); // the weights of this step: the last one is what the folder holds
        lastStep = r.step;
      },
    };
    try {
      const cfg = config({ architecture, ...fields, wandb_id: architecture });
      const s = await languageModelRunner(cfg, { console: false, log: () => {}, handleSignals: false, report: false, sinks: [probe], trainSaeHandle: handle }).run();
      t.is(s.saes.length, 1);
      const done = s.saes[0]!;
      t.is(done.steps, STEPS);
      t.truthy(live, 'the live SAE was seen at the step records');
      t.log(`last step record ${lastStep}, ${done.steps} steps`);
      const saved = JSON.parse(fs.readFileSync(path.join(done.path!, 'cfg.json'), 'utf8')) as Record<string, unknown>;
      t.is(saved['architecture'], architecture);
      const loaded = await loadSae(done.path!);
      try {
        t.is(loaded.cfg.architecture, architecture);
        const back = outputsOf(loaded, x);
        const l0 = live!.fired.reduce((a, v) => a + v, 0) / x.shape[0];
        t.log(`${architecture}: live L0 ${l0.toFixed(1)} on the probe batch; max |out_live − out_loaded| ${maxAbsDiff(live!.out, back.out).toExponential(2)}`);
        t.true(l0 > 0, 'some latents fire on the probe batch (the comparison is not of zeros)');
        t.deepEqual(back.fired, live!.fired, 'the same latents fire');
        t.true(maxAbsDiff(live!.out, back.out) < 1e-4, 'the same reconstruction');
      } finally {
        loaded.dispose();
      }
    } finally {
      x.dispose();
    }
    t.is(tf.memory().numTensors, before, 'no tensor left');
  });
}

t0('a sweep of topk_transcoders (lr 1e-3, 3e-3) on one stream: each saved as a transcoder of its own, each equal to that SAE trained alone', async (t) => {
  const before = tf.memory().numTensors;
  const transcoder = { architecture: 'topk_transcoder', k: 8, d_out: D_IN, hook_name_out: 'blocks.1.hook_mlp_out', apply_b_dec_to_input: false };
  const run = async (name: string, saeIds?: string[]) => {
    const cfg = config({ ...transcoder, lr: [1e-3, 3e-3], wandb_id: name, checkpoint_path: path.join(fixture.tmp(), name) });
    const s = await languageModelRunner(cfg, { console: false, log: () => {}, handleSignals: false, report: false, ...(saeIds ? { saeIds } : {}) }).run();
    return s.saes.map((d) => ({ id: d.saeId, dir: d.path! }));
  };
  const sweep = await run('tc-sweep');
  t.is(sweep.length, 2);
  const weights = (dir: string) => fs.readFileSync(path.join(dir, 'sae_weights.safetensors'));
  for (const { dir } of sweep) {
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'cfg.json'), 'utf8')) as { architecture: string; d_out: number; metadata: Record<string, unknown> };
    t.is(cfg.architecture, 'topk_transcoder');
    t.is(cfg.d_out, D_IN);
    t.is(cfg.metadata['hook_name_out'], 'blocks.1.hook_mlp_out');
  }
  t.false(weights(sweep[0]!.dir).equals(weights(sweep[1]!.dir)), 'the two learning rates give two different transcoders');
  // the second transcoder alone: same stream, same targets, so the same weights bit for bit
  const alone = await run('tc-alone', [sweep[1]!.id]);
  t.is(alone.length, 1);
  t.true(weights(alone[0]!.dir).equals(weights(sweep[1]!.dir)), `${sweep[1]!.id}: the sweep's transcoder equals the one trained alone`);
  t.is(tf.memory().numTensors, before, 'no tensor left');
});
