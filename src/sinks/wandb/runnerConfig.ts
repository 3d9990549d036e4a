import { type LanguageModelSaeRunnerConfig } from '../../config/languageModelRunnerConfig.js';
import { encodeRunnerConfig } from '../../config/runnerConfig.js';
import { type SingleLanguageModelSaeRunnerConfig, expandSweep } from '../../config/sweep.js';
import type { WandbSinkOptions } from './options.js';

/**
 * The sink options SAELens's runner uses for a decoded runner config: project, entity, run name,
 * id (wandb_id, else the id already appended to checkpoint_path), the config itself, log
 * frequency, and each SAE's metric suffix keyed by its `sae_id` (use those ids for trainSae).
 */
export function wandbOptionsFromRunnerConfig(
  cfg: LanguageModelSaeRunnerConfig,
  saes: readonly SingleLanguageModelSaeRunnerConfig[] = expandSweep(cfg),
): WandbSinkOptions {
  const suffixes = new Map(saes.map((s) => [s.sae_id, s.wandb_suffix]));
  return {
    project: cfg.wandb_project,
    ...(cfg.wandb_entity !== null ? { entity: cfg.wandb_entity } : {}),
    runName: cfg.run_name,
    id: cfg.wandb_id ?? cfg.run_id,
    config: encodeRunnerConfig(cfg),
    logFrequency: cfg.wandb_log_frequency,
    metricSuffix: (saeId) => suffixes.get(saeId) ?? `_${saeId}`,
  };
}
