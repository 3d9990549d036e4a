/**
 * Which SAELens folder layout an SAE config is written in (no file access: the trainSae
 * operator checks it before training, in Node and in a page).
 */
import { ConfigError } from '../errors.js';
import type { SaeConfig } from './SaeConfig.js';

/** Which layout writeSaeFolder uses for cfg: 'v1.5', 'v6', or a ConfigError saying why none can hold it. */
export function saeFolderLayout(cfg: SaeConfig): 'v1.5' | 'v6' {
  if (cfg.architecture !== 'standard') return 'v6';
  if (cfg.dSae % cfg.dIn === 0) return 'v1.5';
  if (cfg.activationFn !== 'relu') {
    throw new ConfigError(
      `d_sae ${cfg.dSae} is not a multiple of d_in ${cfg.dIn}: SAELens v1.5 derives d_sae = d_in × expansion_factor and cannot load ` +
        `such an SAE, and SAELens 6's layout has no ${cfg.activationFn} standard SAE; use a d_sae that is a multiple of d_in, or activation_fn relu`,
    );
  }
  return 'v6';
}

/** Throws the ConfigError writeSaeFolder would throw for an SAE of this config (call it before training). */
export function checkSaeFolderWritable(cfg: SaeConfig): void {
  saeFolderLayout(cfg);
}
