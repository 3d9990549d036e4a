/**
 * A run's memory, estimated before anything is allocated: an SAE too wide or a train batch too
 * large for the machine is a config error naming the fields, not allocations until the machine
 * gives up.
 */
import * as os from 'node:os';
import { ConfigError } from '../errors.js';
import type { TrainSaeSpec } from '../operators/trainSae.js';

const F32 = 4;

/**
 * Bytes one SAE needs to train, at least: its parameters four times (weights, gradients, Adam's
 * two moments) and, per train batch, four [batch, d_sae] arrays (pre-activations, features and
 * their gradients) and four [batch, d_in] ones.
 */
export function trainingBytes(dIn: number, dSae: number, trainBatchSize: number): number {
  const params = 2 * dIn * dSae + 3 * dSae + dIn;
  return F32 * (4 * params + 4 * trainBatchSize * dSae + 4 * trainBatchSize * dIn);
}

const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;

/**
 * Throws a ConfigError naming d_sae / train_batch_size when the SAEs of a run (a sweep trains
 * them together) need more memory than the machine has (`limitBytes`, default: total memory).
 */
export function checkTrainingMemory(specs: readonly TrainSaeSpec[], limitBytes = os.totalmem()): void {
  let total = 0;
  const parts: string[] = [];
  for (const s of specs) {
    const b = trainingBytes(s.sae.dIn, s.sae.dSae, s.trainer.trainBatchSize);
    total += b;
    parts.push(`d_in ${s.sae.dIn} × d_sae ${s.sae.dSae}, train_batch_size ${s.trainer.trainBatchSize}: ${gib(b)}`);
  }
  if (total > limitBytes)
    throw new ConfigError(
      `d_sae / train_batch_size: training needs at least ${gib(total)} (${parts.length > 1 ? `${parts.length} SAEs: ` : ''}${parts.slice(0, 3).join('; ')}${parts.length > 3 ? '; …' : ''}), more than the ${gib(limitBytes)} of memory here; use a smaller d_sae (expansion_factor) or train_batch_size`,
    );
}
