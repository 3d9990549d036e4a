/**
 * W&B rows of step records from SAELens 6 architectures: every loss term under SAELens 6's
 * metric name, the L1 term as trained (not divided by its coefficient, unlike v1.5), each
 * coefficient as details/<name>_coefficient, and no v1.5-only terms (ghost grads) logged.
 */
import test from 'ava';
import { stepRow } from '../../src/sinks/wandb/records.js';
import type { StepRecord } from '../../src/stream/TrainEvent.js';

const base = { type: 'step', saeId: 'sae', step: 9, tokens: 320, l0: 4, explainedVarianceMean: 0.9, explainedVarianceStd: 0.1, deadFeatures: 3, lr: 1e-3, phase: 'train' } as const;

test('topk: mse, auxiliary_reconstruction_loss, overall; no l1 or ghost keys', (t) => {
  const r: StepRecord = { ...base, l1Coefficient: 0, architecture: 'topk', coefficients: {}, losses: { mse: 0.5, total: 0.75, auxiliary_reconstruction_loss: 0.25 } };
  const row = stepRow(r, '');
  t.is(row['losses/mse_loss'], 0.5);
  t.is(row['losses/auxiliary_reconstruction_loss'], 0.25);
  t.is(row['losses/overall_loss'], 0.75);
  t.false('losses/l1_loss' in row);
  t.false('losses/ghost_grad_loss' in row);
  t.false('details/current_l1_coefficient' in row);
});

test('standard_v6: l1_loss as trained and details/l1_coefficient (SAELens 6), matryoshka inner terms by name', (t) => {
  const r: StepRecord = { ...base, l1Coefficient: 0.5, architecture: 'standard_v6', coefficients: { l1: 0.5 }, losses: { mse: 1, l1: 0.2, total: 1.2 } };
  const row = stepRow(r, '_x');
  t.is(row['losses/l1_loss_x'], 0.2);
  t.is(row['details/l1_coefficient_x'], 0.5);
  const m: StepRecord = { ...base, l1Coefficient: 0, architecture: 'matryoshka_batchtopk', coefficients: {}, losses: { mse: 1, total: 1.5, auxiliary_reconstruction_loss: 0, inner_mse_loss_8: 0.5 } };
  t.is(stepRow(m, '')['losses/inner_mse_loss_8'], 0.5);
});
