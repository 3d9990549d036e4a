/**
 * LR and L1 schedules of SAELens v1.5.0 (`sae_lens/training/optim.py`), as closed forms of the
 * step index k (the value the optimizer uses AT step k, i.e. before that step's
 * scheduler.step()). They reproduce PyTorch's SequentialLR of
 *   [LinearLR warm-up] → main (LambdaLR 1 | CosineAnnealingLR | CosineAnnealingWarmRestarts)
 *   → [LinearLR decay]
 * with milestones [W, T − D]:
 * - warm-up: LinearLR(start 1/W, end 1, total_iters W − 1): lr/W at k = 0, lr at k = W − 1;
 * - main, at e = k − W: constant lr; cosine eta + (lr − eta)(1 + cos(π e / T_main))/2 with
 *   T_main = T − W − D; restarts with period ⌊T_main / n_restart_cycles⌋;
 * - decay, at e = k − (T − D): LinearLR(start lr_end/lr, end 0, total_iters D), so it runs
 *   lr_end·(1 − e/D) and ends at lr_end/D on the last step (not 0). The constant scheduler
 *   decays from lr (SAELens sets lr_end = lr for it).
 */
import { ConfigError } from '../errors.js';
import type { TrainerConfig } from './TrainerConfig.js';

export interface LrScheduleParams {
  lr: number;
  lrSchedulerName: TrainerConfig['lrSchedulerName'];
  lrWarmUpSteps: number;
  lrEnd: number | null;
  lrDecaySteps: number;
  nRestartCycles: number;
  /** The schedule's horizon: all steps of the run (training + fine-tuning). */
  totalSteps: number;
}

export class LrSchedule {
  private readonly lrEnd: number;
  private readonly decayFrom: number;
  private readonly mainSteps: number;
  private readonly period: number;

  constructor(readonly p: LrScheduleParams) {
    const { lr, lrWarmUpSteps: W, lrDecaySteps: D, totalSteps: T } = p;
    if (!(lr > 0)) throw new ConfigError(`lr: expected > 0, got ${lr}`);
    if (!Number.isInteger(W) || W < 0) throw new ConfigError(`lr_warm_up_steps: expected an integer >= 0, got ${W}`);
    if (!Number.isInteger(D) || D < 0) throw new ConfigError(`lr_decay_steps: expected an integer >= 0, got ${D}`);
    this.lrEnd = p.lrEnd ?? lr / 10;
    this.mainSteps = T - W - D;
    const name = p.lrSchedulerName;
    if (name !== 'constant' && name !== 'cosineannealing' && name !== 'cosineannealingwarmrestarts') {
      throw new ConfigError(`lr_scheduler_name: unknown '${String(name)}', expected constant, cosineannealing or cosineannealingwarmrestarts`);
    }
    if (name === 'cosineannealing' && this.mainSteps < 1) {
      throw new ConfigError(`lr_scheduler_name cosineannealing: needs total steps (${T}) > lr_warm_up_steps (${W}) + lr_decay_steps (${D})`);
    }
    this.period = Math.floor(this.mainSteps / p.nRestartCycles);
    if (name === 'cosineannealingwarmrestarts' && !(this.period >= 1)) {
      throw new ConfigError(
        `n_restart_cycles: ${p.nRestartCycles} cycles over ${this.mainSteps} main-schedule steps leaves a period < 1 step`,
      );
    }
    // SAELens: "constant scheduler ignores lr_end, so decay needs to start at lr"
    this.decayFrom = name === 'constant' ? lr : this.lrEnd;
    if (D > 0 && this.decayFrom === 0) {
      throw new ConfigError('lr_decay_steps > 0 with lr_end = 0 would decay from 0 to 0 (SAELens refuses it too)');
    }
  }

  /** The learning rate used at step k (0-based). */
  at(k: number): number {
    const { lr, lrWarmUpSteps: W, lrDecaySteps: D, totalSteps: T } = this.p;
    if (W > 0 && k < W) {
      if (W === 1) return lr;
      const start = 1 / W;
      return lr * (start + ((1 - start) * Math.min(k, W - 1)) / (W - 1));
    }
    if (D > 0 && k >= T - D) {
      const e = Math.min(k - (T - D), D);
      return lr * (this.decayFrom / lr + ((0 - this.decayFrom / lr) * e) / D);
    }
    const e = k - W;
    const eta = this.lrEnd;
    switch (this.p.lrSchedulerName) {
      case 'constant':
        return lr;
      case 'cosineannealing':
        return eta + ((lr - eta) * (1 + Math.cos((Math.PI * e) / this.mainSteps))) / 2;
      case 'cosineannealingwarmrestarts': {
        const tCur = e % this.period;
        return eta + ((lr - eta) * (1 + Math.cos((Math.PI * tCur) / this.period))) / 2;
      }
    }
  }
}

/**
 * L1 coefficient used at step k: SAELens's L1Scheduler sets λ = 0 at start when warming up and
 * steps after the optimizer, so step k trains with λ·min(k, W)/W (step 0 with 0).
 */
export function l1CoefficientAt(k: number, l1Coefficient: number, l1WarmUpSteps: number): number {
  if (l1WarmUpSteps === 0) return l1Coefficient;
  if (k === 0) return 0;
  const s = k - 1; // the scheduler's own counter when it set the value used at step k
  return s < l1WarmUpSteps ? l1Coefficient * ((1 + s) / l1WarmUpSteps) : l1Coefficient;
}

/**
 * A scheduled coefficient at step k (SAELens 6's CoefficientScheduler: 0 at step 0 when warming
 * up, then value·min(k, W)/W; it steps after the optimizer). The same closed form as the v1.5
 * L1 scheduler, under the name SAELens 6 uses for every coefficient (l1, l0, …).
 */
export const coefficientAt = l1CoefficientAt;
