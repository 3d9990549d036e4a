import * as tf from '@tensorflow/tfjs-core';
import type { Observable } from 'rxjs';
import { ConfigError } from '../errors.js';
import type { ActivationBatch } from '../stream/ActivationBatch.js';
import { disposeBatch } from '../stream/ownership.js';
import { Rng } from '../stream/rng.js';
import { fromPull } from './fromPull.js';
import { toyFeatures, toyHidden, type ToyModel } from './toyModel.js';
import { platform } from '../platform/index.js';

export interface ToyActivationsOptions {
  /** Rows per batch. */
  readonly batchSize: number;
  readonly seed: number;
  /** Stop after this many batches (default: never; bound it downstream, e.g. with trainSae). */
  readonly batches?: number;
  /** Hook name on the batches (default 'hook_hidden'). */
  readonly hook?: string;
}

/**
 * A cold, pull-paced source of the toy model's hidden activations `h = W x` (`[batchSize,
 * nHidden]`) for freshly sampled sparse features x — SAELens's toy runner draws them the same
 * way, once. The next batch is made only after the previous one was handled downstream
 * (`fromPull`), and it yields to the event loop between batches so signals and pending writes
 * are served. Each batch belongs to the subscriber.
 */
export function toyActivations(model: ToyModel, opts: ToyActivationsOptions): Observable<ActivationBatch> {
  const { batchSize, seed, batches = Infinity, hook = 'hook_hidden' } = opts ?? ({} as ToyActivationsOptions);
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new ConfigError(`toyActivations(): batchSize must be a positive integer, got ${batchSize}`);
  if (!Number.isFinite(seed)) throw new ConfigError(`toyActivations(): seed must be a number, got ${seed}`);
  if (!(batches >= 0)) throw new ConfigError(`toyActivations(): batches must be ≥ 0, got ${batches}`);
  const H = model.cfg.nHidden;
  return fromPull(
    async function* () {
      const rng = new Rng(seed);
      for (let i = 0; i < batches; i++) {
        const h = toyHidden(model, toyFeatures(model.cfg, batchSize, rng));
        yield { acts: tf.tensor2d(h, [batchSize, H]), hooks: [hook] } as ActivationBatch;
        await platform.yieldToEventLoop();
      }
    },
    { discard: disposeBatch },
  );
}
