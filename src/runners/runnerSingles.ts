/**
 * The sweep's single-SAE configs as the runner names them, in a module of its own: the
 * distributed sweep's coordinator and `sae-rx train`'s summary need the names, not the runner
 * (which loads the model, the backend and the sources).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LanguageModelSaeRunnerConfig } from '../config/languageModelRunnerConfig.js';
import { type SingleLanguageModelSaeRunnerConfig, expandSweep } from '../config/sweep.js';

/** A model_name that names a local folder (it exists, or is written as a path). */
export function isLocalPath(name: string): boolean {
  return fs.existsSync(name) || name.startsWith('.') || name.startsWith('/');
}

/**
 * The sweep's single-SAE configs as the runner trains and names them: a local model folder is
 * named by its folder name in SAE ids and saved cfg.json files (SAELens would put the whole
 * path there, slashes turned into underscores).
 */
export function runnerSingles(cfg: LanguageModelSaeRunnerConfig): SingleLanguageModelSaeRunnerConfig[] {
  return expandSweep(isLocalPath(cfg.model_name) ? { ...cfg, model_name: path.basename(path.resolve(cfg.model_name)) } : cfg);
}
