/**
 * The page side of `npm run bench -- --browser` (bench/browser.ts bundles it with sae-rx's browser
 * build and serves it from loopback): times, in the page, on the backend it is asked for,
 *  - the SAE training step (SaeTrainer.step and stepAsync, as bench/trainStep.ts: renormalize,
 *    forward, losses, backward, clip, decoder-gradient projection, Adam, metrics read back), and
 *  - the tiny GPT-2 forward (as bench/modelForward.ts: activations up to a hook, and full logits),
 *    the model loaded by URL through sae-rx's folder loaders.
 * Each first runs warm-up iterations (shader compilation on webgl / webgpu), then the timed ones.
 */
import {
  BACKEND_PREFERENCE, DEFAULT_SAE_CONFIG, DEFAULT_TRAINER_CONFIG, HookedTransformer, Sae, SaeTrainer, backendInfo, selectBackend, tf, urlFolder,
} from '../src/browser.js';
import { randomTokens } from './randomTokens.js';

async function backend(name: string) {
  try {
    const c = await selectBackend({ prefer: name, log: () => {} });
    const info = backendInfo();
    return { backend: c.name, tfBackend: tf.getBackend(), preference: BACKEND_PREFERENCE, kernels: info.kernels, ...(info.wasm ? { wasm: info.wasm } : {}) };
  } catch (e) {
    return { backend: undefined, preference: BACKEND_PREFERENCE, error: (e as Error).message };
  }
}

/**
 * ms of each timed SaeTrainer step at (dIn, dSae, batch), after `warmup` steps; tensors left over.
 * `read`: 'sync' = step() (reads its metrics back synchronously), 'async' = stepAsync() (with
 * data(): what a page should use on webgpu, where synchronous reads are slow).
 */
async function trainStep(o: { dIn: number; dSae: number; batch: number; warmup: number; steps: number; read: 'sync' | 'async' }) {
  const before = tf.memory().numTensors;
  const sae = Sae.create({ ...DEFAULT_SAE_CONFIG, dIn: o.dIn, dSae: o.dSae }, { seed: 1 });
  const tr = new SaeTrainer(sae, { ...DEFAULT_TRAINER_CONFIG, trainBatchSize: o.batch, totalTrainingSteps: 1000 });
  const x = tf.randomNormal([o.batch, o.dIn], 0, 1, 'float32', 3) as tf.Tensor2D;
  const ms: number[] = [];
  let mse = NaN;
  try {
    for (let i = 0; i < o.warmup + o.steps; i++) {
      const t0 = performance.now();
      // both return after reading the step's metrics back, so the step has finished
      const m = o.read === 'sync' ? tr.step(x) : await tr.stepAsync(x);
      if (i >= o.warmup) ms.push(performance.now() - t0);
      mse = m.losses.mse;
    }
  } finally {
    x.dispose();
    tr.dispose();
    sae.dispose();
  }
  return { ms, mse, leaked: tf.memory().numTensors - before };
}

/**
 * The model at `modelUrl` (loaded once per page), timed per variant: 'activations' =
 * runWithCache(tokens, { names: [hook] }) (stops after the hook's block), 'logits' = the full
 * forward. Each pass ends by reading one value back, so the GPU has finished it.
 */
let loaded: { url: string; model: HookedTransformer; loadMs: number } | undefined;
async function forward(o: { modelUrl: string; variant: 'activations' | 'logits'; hook: string; batch: number; pos: number; warmup: number; iters: number }) {
  if (loaded?.url !== o.modelUrl) {
    loaded?.model.dispose();
    const t0 = performance.now();
    const model = await HookedTransformer.fromFolder(urlFolder(o.modelUrl));
    loaded = { url: o.modelUrl, model, loadMs: performance.now() - t0 };
  }
  const { model } = loaded;
  const before = tf.memory().numTensors;
  const tokens = randomTokens(o.batch, o.pos, model.cfg.dVocab, 42);
  const once = async () => {
    let out: tf.Tensor;
    let rest: tf.Tensor[] = [];
    if (o.variant === 'logits') out = model.logits(tokens);
    else {
      const r = model.runWithCache(tokens, { names: [o.hook] });
      out = r.cache.get(o.hook)!;
      rest = [...r.cache.values()].filter((t) => t !== out);
      if (r.output) rest.push(r.output);
    }
    const one = tf.slice(out, new Array(out.rank).fill(0), new Array(out.rank).fill(1));
    await one.data();
    tf.dispose([one, out, ...rest]);
  };
  const ms: number[] = [];
  for (let i = 0; i < o.warmup + o.iters; i++) {
    const t0 = performance.now();
    await once();
    if (i >= o.warmup) ms.push(performance.now() - t0);
  }
  tokens.dispose();
  return { ms, loadMs: loaded.loadMs, leaked: tf.memory().numTensors - before };
}

(globalThis as Record<string, unknown>)['saeRxBench'] = { backend, trainStep, forward };
