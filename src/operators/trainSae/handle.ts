import { ConfigError } from '../../errors.js';
import type { LiveSae } from '../evaluate.js';

/**
 * The SAEs a `trainSae` subscription is training, by id, for code that runs synchronously
 * inside the stream (an operator right after `trainSae`, reacting to a `step` record, sees the
 * weights of that step). An SAE is there from the subscription's start until it finishes (its
 * final folder is written) or the stream ends; do not keep it or dispose of it. The inputs it
 * trains on are scaled by `normScalingFactor` (normalizeActivations) when there is one.
 */
export class TrainSaeHandle {
  private source: ((saeId: string) => LiveSae | undefined) | undefined;
  /** The live SAE of `saeId`, or undefined (unknown id, finished, or nothing training). */
  readonly saeOf = (saeId: string): LiveSae | undefined => this.source?.(saeId);
  /** @internal trainSae attaches its slots here; returns the detach function. */
  attach(source: (saeId: string) => LiveSae | undefined): () => void {
    if (this.source) throw new ConfigError('trainSae(): a TrainSaeHandle serves one subscription at a time (make one per subscription)');
    this.source = source;
    return () => {
      if (this.source === source) this.source = undefined;
    };
  }
}
