/**
 * Part 1 of the demo: Anthropic's toy model of superposition and a TopK SAE on its hidden layer,
 * both trained in the page on the chosen backend, the SAE's losses, L0 and dead latents charted
 * per step, then feature recovery (each true feature's best decoder-row cosine; recovered above
 * 0.9, as `npm run example -- toy` and the toy-recovery tests measure it).
 *
 * The SAE trains through sae-rx's dataflow: `toyActivations` (a pull-paced Observable of the toy
 * model's hidden activations) → each batch a `SaeTrainer.stepAsync` (concatMap: one step at a time)
 * → the charts. Every read-back is asynchronous (`data()`; webgpu's dataSync() goes through a
 * canvas) and the page yields between steps, so it keeps drawing while it trains.
 *
 * Sized for a software-rendered GPU (CI's headless Chromium runs webgl and webgpu on SwiftShader):
 * the toy model gets 100 Adam steps of 512 at lr 1e-2 and the SAE 60 steps of 256. Measured at
 * these settings: 10/10 recovered by step 20 in Node (tfjs cpu), 9/10 by step 20 on webgl; TopK with k = 1 because the true
 * features average 0.5 per input. `?toySteps=N&saeSteps=M` shortens a run (the webgpu browser test
 * uses 50 and 30: 10/10 by step 20 in Node at those sizes).
 */
import { concatMap, lastValueFrom, tap } from 'rxjs';
import {
  DEFAULT_SAE_CONFIG,
  DEFAULT_TRAINER_CONFIG,
  Sae,
  SaeTrainer,
  architectureOf,
  escapeHtml,
  tableDefaults,
  tf,
  toyActivations,
  toyFeatureRecovery,
  toyModel,
  trainToyModelAsync,
  type FeatureRecovery,
  type StepMetrics,
} from './saeRx.js';
import { LiveChart } from './liveChart.js';
import { TOY_DEMO, toyDemoSizes } from './toyDemoConfig.js';
import { activityMark, quietSince } from './activity.js';


const $ = (id: string) => document.getElementById(id)!;
const nextFrame = () => new Promise<void>((r) => setTimeout(r, 0));

export interface ToyDemoResult {
  readonly recovery: FeatureRecovery;
  readonly last: StepMetrics;
  readonly seconds: number;
  /** Of which the toy model's training. */
  readonly toySeconds: number;
}

function drawRecovery(rec: FeatureRecovery): void {
  $('toy-recovered').textContent = `${rec.recovered}/${rec.maxCosine.length} recovered · mean best cosine ${rec.meanMaxCosine.toFixed(3)}`;
  $('toy-recovered').dataset['recovered'] = String(rec.recovered);
  $('toy-recovery').innerHTML = rec.maxCosine
    .map((c, i) => {
      const h = Math.max(0, Math.min(1, c)) * 100;
      return `<div class="rec${c > rec.threshold ? ' ok' : ''}" data-feature="${i}" title="feature ${i}: best decoder cosine ${escapeHtml(c.toFixed(4))}">` +
        `<div class="bar-wrap"><div class="bar" style="height:${h.toFixed(1)}%"></div></div><span class="cos">${escapeHtml(c.toFixed(2))}</span><span>feature ${i}</span></div>`;
    })
    .join('');
}

export function setUpToyDemo(backend: string): void {
  const c = toyDemoSizes(new URLSearchParams(location.search));
  const button = $('toy-start') as HTMLButtonElement;
  const status = $('toy-status');
  $('toy-config').textContent =
    `toy model: ${c.toySteps} steps of ${c.toyBatch} · SAE: TopK k=${c.k}, ${c.dSae} latents, ${c.saeSteps} steps of ${c.saeBatch}, lr ${c.saeLr}`;
  const loss = new LiveChart($('chart-loss'), 'toy-loss', 'losses', [
    { name: 'mse_loss', color: '#2f6fdf' },
    { name: 'auxiliary_reconstruction_loss', color: '#e07b00' },
  ], { logY: 'auto' });
  const l0 = new LiveChart($('chart-l0'), 'toy-l0', 'L0', [{ name: 'L0', color: '#1a7f45' }]);
  const dead = new LiveChart($('chart-dead'), 'toy-dead', 'dead latents', [{ name: 'dead latents', color: '#b3261e' }]);
  button.disabled = false;

  button.addEventListener('click', () => {
    button.disabled = true;
    document.body.dataset['toy'] = 'running';
    delete document.body.dataset['toyNineAt'];
    for (const ch of [loss, l0, dead]) ch.reset();
    run(backend, c, { loss, l0, dead }, (s) => (status.textContent = s))
      .then((r) => {
        status.textContent = `done on ${backend} in ${r.seconds.toFixed(1)} s (toy model ${r.toySeconds.toFixed(1)} s, SAE ${(r.seconds - r.toySeconds).toFixed(1)} s); final MSE ${r.last.losses.mse.toExponential(2)}`;
        document.body.dataset['toy'] = 'done';
      })
      .catch((e: Error) => {
        console.error(e);
        status.textContent = `failed: ${e.message}`;
        status.classList.add('error');
        document.body.dataset['toy'] = 'failed';
      })
      .finally(() => (button.disabled = false));
  });
}

async function run(backend: string, c: typeof TOY_DEMO, charts: { loss: LiveChart; l0: LiveChart; dead: LiveChart }, say: (s: string) => void): Promise<ToyDemoResult> {
  const t0 = performance.now();
  const before = tf.memory().numTensors;
  const since = activityMark();
  say(`training the toy model (${c.toySteps} steps)…`);
  await nextFrame();
  const model = await trainToyModelAsync(
    toyModel({ nFeatures: c.nFeatures, nHidden: c.nHidden, featureProbability: c.featureProbability, seed: c.seed }),
    {
      steps: c.toySteps,
      batchSize: c.toyBatch,
      lr: c.toyLr,
      logEvery: 10,
      onLog: (step, l) => say(`training the toy model: step ${step + 1}/${c.toySteps} · loss ${l.toExponential(2)}`),
      yieldTo: nextFrame,
    },
  );
  const toySeconds = (performance.now() - t0) / 1000;
  const sae = Sae.create(
    {
      ...DEFAULT_SAE_CONFIG,
      architecture: 'topk',
      archFields: { ...tableDefaults(architectureOf('topk').fields), k: c.k },
      dIn: c.nHidden,
      dSae: c.dSae,
      normalizeSaeDecoder: false,
      bDecInitMethod: 'zeros',
    },
    { seed: 1 },
  );
  const trainer = new SaeTrainer(sae, {
    ...DEFAULT_TRAINER_CONFIG,
    lr: c.saeLr,
    lrWarmUpSteps: 0,
    adamBeta1: 0.9,
    adamBeta2: 0.999,
    trainBatchSize: c.saeBatch,
    totalTrainingSteps: c.saeSteps,
    deadFeatureWindow: c.deadFeatureWindow,
  });
  /** Each true feature's best decoder-row cosine, from W_dec read asynchronously. */
  const recovery = async () => toyFeatureRecovery(model, (await sae.W_dec.data()) as Float32Array, c.threshold);
  try {
    const last = await lastValueFrom(
      toyActivations(model, { batchSize: c.saeBatch, seed: c.seed + 1, batches: c.saeSteps }).pipe(
        // one step at a time; the batch is the step's, freed once its metrics are read
        concatMap(async (b) => {
          try {
            return await trainer.stepAsync(b.acts as tf.Tensor2D);
          } finally {
            b.acts.dispose();
          }
        }),
        tap((m) => {
          if (!Number.isFinite(m.losses.total)) throw new Error(`the SAE's loss is ${m.losses.total} at step ${m.step} on ${backend}`);
          charts.loss.push(m.step, m.terms);
          charts.l0.push(m.step, { L0: m.l0 });
          charts.dead.push(m.step, { 'dead latents': m.deadFeatures });
          say(`SAE step ${m.step + 1}/${c.saeSteps} · MSE ${m.losses.mse.toExponential(2)} · L0 ${m.l0.toFixed(2)} · dead ${m.deadFeatures}`);
        }),
        concatMap(async (m) => {
          if (m.step % 10 === 9 || m.step === c.saeSteps - 1) {
            const rec = await recovery();
            drawRecovery(rec);
            // when 9 of the 10 were first recovered (the browser test logs it, to size the run)
            if (rec.recovered >= c.nFeatures - 1 && !document.body.dataset['toyNineAt']) document.body.dataset['toyNineAt'] = String(m.step + 1);
          }
          await nextFrame();
          return m;
        }),
      ),
    );
    const rec = await recovery();
    drawRecovery(rec);
    return { recovery: rec, last, seconds: (performance.now() - t0) / 1000, toySeconds };
  } finally {
    trainer.dispose();
    sae.dispose();
    // tensors left behind by this run (counted only when nothing else in the page made or freed any meanwhile)
    const leaked = tf.memory().numTensors - before;
    if (leaked !== 0 && quietSince(since)) console.warn(`toy demo: ${leaked} tensors left behind`);
  }
}
