/**
 * Test helper: a 150-step SaeTrainer run against a reference trajectory of our plain-PyTorch
 * scripts (jumprelu_gated_reference.py, transcoder_reference.py). The reference also ran itself
 * with W_enc perturbed by 1e-7 (`divergence`): where that perturbation stays below 1e-5 the run
 * is reproducible in float32, loss terms must agree to 1e-4 and parameters to 1e-4 of their
 * largest entry; after that (a discontinuous loss, one latent crossing its threshold a step
 * earlier, changes the path) only the loss level and L0 of the last 10 steps are compared.
 */
import type { ExecutionContext } from 'ava';
import type { Sae } from '../../src/sae/Sae.js';
import type { StepMetrics } from '../../src/train/SaeTrainer.js';
import { compare } from './fixtures.js';

export interface ReferenceTrajectory {
  readonly steps: number;
  readonly losses: ReadonlyArray<Record<string, number>>;
  readonly l0: readonly number[];
  readonly n_dead: readonly number[];
  /** Parameters after step s (1-based), by name. */
  readonly params: Record<string, Record<string, number[]>>;
  readonly divergence: Record<string, number>;
}

/** What followTrajectory measured: the last reproducible step and the worst loss-term error before it. */
export interface TrajectoryResult {
  readonly horizon: number;
  readonly worstLossError: number;
  readonly worstParamError: number;
}

/** Runs `step(k)` for every reference step and checks it against `r` (see the file comment). */
export function followTrajectory(t: ExecutionContext, r: ReferenceTrajectory, sae: Sae, step: (k: number) => StepMetrics): TrajectoryResult {
  const stable = Object.keys(r.divergence).map(Number).filter((s) => r.divergence[String(s)]! <= 1e-5);
  const horizon = Math.max(...stable);
  t.log(`stable through step ${horizon} of ${r.steps} (reference divergence ${JSON.stringify(r.divergence)})`);
  let worst = 0;
  let worstParam = 0;
  const lastMse: number[] = [];
  const lastL0: number[] = [];
  for (let k = 0; k < r.steps; k++) {
    const m = step(k);
    if (k >= r.steps - 10) (lastMse.push(m.terms['mse_loss']!), lastL0.push(m.l0));
    t.is(m.deadFeatures, r.n_dead[k], `dead latents at step ${k}`);
    if (k < horizon) {
      for (const [term, want] of Object.entries(r.losses[k]!)) {
        const err = Math.abs(m.terms[term]! - want) / Math.max(Math.abs(want), 1e-3);
        worst = Math.max(worst, err);
        t.true(err < 1e-4, `step ${k} ${term}: ${m.terms[term]} vs ${want}`);
      }
      t.true(Math.abs(m.l0 - r.l0[k]!) < 1e-9, `step ${k} l0 ${m.l0} vs ${r.l0[k]}`);
    }
    if (stable.includes(k + 1)) {
      const snap = sae.snapshot();
      for (const [p, want] of Object.entries(r.params[String(k + 1)]!)) {
        const c = compare(snap.get(p), want, 0, 1e-4);
        worstParam = Math.max(worstParam, c.worst);
        t.true(c.ok, `step ${k + 1} ${p}: worst ${c.worst.toExponential(2)} of max`);
      }
    }
  }
  t.log(`worst loss-term error over the horizon ${worst.toExponential(2)}, worst parameter error ${worstParam.toExponential(2)} of max`);
  const mean = (a: readonly number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const refMse = mean(r.losses.slice(-10).map((l) => l['mse_loss']!));
  const refL0 = mean(r.l0.slice(-10));
  t.true(Math.abs(mean(lastMse) - refMse) < 0.1 * refMse, `last-10 mse ${mean(lastMse)} vs ${refMse}`);
  t.true(Math.abs(mean(lastL0) - refL0) < 0.1 * refL0, `last-10 l0 ${mean(lastL0)} vs ${refL0}`);
  return { horizon, worstLossError: worst, worstParamError: worstParam };
}
