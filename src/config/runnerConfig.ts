/**
 * The entry points for runner configs: decode any of the three runners (throwing one
 * ConfigError that lists every problem), the same decoders as io-ts codecs, and the encoding
 * back to SAELens's snake_case dict (for cfg.json and printing, secrets masked).
 */
import * as t from 'io-ts';
import { type CacheActivationsRunnerConfig, decodeCacheActivationsRunnerConfig } from './cacheActivationsRunnerConfig.js';
import { RunnerConfigError } from './fields.js';
import {
  type DecodeOptions, type LanguageModelSaeRunnerConfig, decodeLanguageModelFields,
} from './languageModelRunnerConfig.js';
import { redactSecrets } from './secrets.js';
import { expandSweep } from './sweep.js';
import { type ToyModelRunnerConfig, decodeToyModelRunnerConfig } from './toyModelRunnerConfig.js';

export type RunnerKind = 'language_model' | 'cache_activations' | 'toy_model';

export interface RunnerConfigs {
  language_model: LanguageModelSaeRunnerConfig;
  cache_activations: CacheActivationsRunnerConfig;
  toy_model: ToyModelRunnerConfig;
}

/**
 * Decodes a LanguageModelSAERunnerConfig (file, CLI, SAELens cfg.json): checks every field,
 * fills SAELens's defaults, runs its __post_init__ checks and derivations, and checks every
 * combination of a sweep. Throws a RunnerConfigError (a ConfigError) listing every problem.
 */
export function decodeLanguageModelSaeRunnerConfig(raw: unknown, opts: DecodeOptions = {}): LanguageModelSaeRunnerConfig {
  const cfg = decodeLanguageModelFields(raw, opts);
  expandSweep(cfg); // throws a RunnerConfigError when some combination of the sweep cannot train
  return cfg;
}

/**
 * Decodes a runner config of the given kind (default: the language-model SAE runner).
 * Returns the decoded config or throws a ConfigError whose message lists every problem as
 * `path: expected …, got …`.
 */
export function decodeRunnerConfig(raw: unknown): LanguageModelSaeRunnerConfig;
export function decodeRunnerConfig<K extends RunnerKind>(raw: unknown, kind: K, opts?: DecodeOptions): RunnerConfigs[K];
export function decodeRunnerConfig(raw: unknown, kind: RunnerKind = 'language_model', opts: DecodeOptions = {}): unknown {
  switch (kind) {
    case 'language_model':
      return decodeLanguageModelSaeRunnerConfig(raw, opts);
    case 'cache_activations':
      return decodeCacheActivationsRunnerConfig(raw);
    case 'toy_model':
      return decodeToyModelRunnerConfig(raw);
  }
}

function asCodec<A>(name: string, decode: (u: unknown) => A, encode: (a: A) => Record<string, unknown>): t.Type<A, Record<string, unknown>, unknown> {
  return new t.Type<A, Record<string, unknown>, unknown>(
    name,
    (u): u is A => {
      try {
        decode(u);
        return true;
      } catch {
        return false;
      }
    },
    (u, c) => {
      try {
        return t.success(decode(u));
      } catch (e) {
        if (!(e instanceof RunnerConfigError)) throw e;
        return t.failures(e.problems.map((p) => ({ value: u, context: c, message: `${p.path}: ${p.message}` })));
      }
    },
    encode,
  );
}

/**
 * SAELens's cfg dict of a decoded config: its snake_case fields (d_sae, lr_end, run_name,
 * tokens_per_buffer… as SAELens writes them; dtype as "torch.float32"), secrets masked.
 * sae-rx-only bookkeeping (run_id, total_training_steps, sweep ids) is left out.
 */
export function encodeRunnerConfig(cfg: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(cfg)) {
    if (k === 'run_id' || k === 'sae_id' || k === 'wandb_suffix' || k === 'sweep_values' || k === 'total_training_steps') continue;
    // SAELens writes str(torch.float32), and only reads back the "torch.*" spelling.
    out[k] = k === 'dtype' && v === 'float32' ? 'torch.float32' : v;
  }
  return redactSecrets(out);
}

/** io-ts codecs of the three runner configs (decode = the functions above; errors carry messages). */
export const LanguageModelSaeRunnerConfigCodec = asCodec<LanguageModelSaeRunnerConfig>(
  'LanguageModelSAERunnerConfig',
  (u) => decodeLanguageModelSaeRunnerConfig(u),
  encodeRunnerConfig,
);
export const CacheActivationsRunnerConfigCodec = asCodec<CacheActivationsRunnerConfig>(
  'CacheActivationsRunnerConfig',
  decodeCacheActivationsRunnerConfig,
  encodeRunnerConfig,
);
export const ToyModelRunnerConfigCodec = asCodec<ToyModelRunnerConfig>('SAEToyModelRunnerConfig', decodeToyModelRunnerConfig, encodeRunnerConfig);
