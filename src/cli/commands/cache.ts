/**
 * `sae-rx cache CONFIG`: run SAELens's CacheActivationsRunner: the model over the dataset,
 * the hook's activations written as shuffled safetensors shards.
 */
import * as path from 'node:path';
import type { Observable } from 'rxjs';
import { selectBackend } from '../../backend/selectBackend.js';
import type { CacheActivationsRunnerConfig } from '../../config/cacheActivationsRunnerConfig.js';
import { ConfigError } from '../../errors.js';
import { HookedTransformer } from '../../model/HookedTransformer.js';
import { loadTokenizer } from '../../model/tokenizer.js';
import { modelActivations } from '../../operators/modelActivations.js';
import { packContext } from '../../operators/packContext.js';
import type { ActivationBatch } from '../../operators/types.js';
import type { Document } from '../../sources/documents.js';
import type { FlagSpec, ParsedArgs } from '../args.js';
import type { CliContext } from '../context.js';
import { UsageError, stage } from '../errors.js';
import { fieldLines } from '../help.js';
import { FIELD_TABLES, loadRunConfig } from '../runConfig.js';
import { optionalFunction } from '../runners.js';
import type { Command } from './command.js';

const FLAGS: readonly FlagSpec[] = [];

/** The cache runner (src/runners/cacheActivationsRunner.ts), as the CLI calls it. */
type CacheRunner = (
  cfg: CacheActivationsRunnerConfig,
  opts: { source: Observable<ActivationBatch>; log: (line: string) => void },
) => Promise<{ path: string; shards: number; tokens: number; bytes: number; seconds: number; tokensPerSecond: number }>;
/** From the language-model runner: the model folder of model_name (local, or the hub cache) and the dataset's documents. */
type ResolveModelFolder = (modelName: string) => Promise<string>;
type DatasetDocuments = (cfg: { dataset_path: string; streaming: boolean }) => Observable<Document>;

async function run(ctx: CliContext, args: ParsedArgs): Promise<number> {
  const [file, ...extra] = args.positionals;
  if (file === undefined) throw new UsageError("cache needs a CONFIG file (JSON or YAML); see 'sae-rx cache --help'");
  if (extra.length > 0) throw new UsageError(`cache takes one CONFIG file; unexpected ${extra.join(' ')}`);
  const { config, extraPositionals } = await loadRunConfig('cache', file, args, ['cache_activations'] as const, FLAGS, ctx.io.cwd);
  if (extraPositionals.length > 0) throw new UsageError(`cache takes one CONFIG file; unexpected ${extraPositionals.join(' ')}`);
  const runner = await optionalFunction<CacheRunner>('the cache-activations runner', 'cacheActivationsRunner', ['runners/cacheActivationsRunner', 'runners/index']);
  const lm = ['runners/languageModelRunner', 'runners/index'];
  const resolveModelFolder = await optionalFunction<ResolveModelFolder>('loading the model of a runner config', 'resolveModelFolder', lm);
  const datasetDocuments = await optionalFunction<DatasetDocuments>('reading the dataset of a runner config', 'datasetDocuments', lm);
  await stage('selecting the backend', () => selectBackend({ log: (l) => ctx.info(l) }));
  const dir = await stage(`finding the model ${config.model_name}`, () => resolveModelFolder(config.model_name));
  const model = await stage(`loading the model in ${dir}`, () => HookedTransformer.fromFolder(dir, { modelName: path.basename(config.model_name) }));
  try {
    const shape = model.hookShapes(1, 1)[config.hook_point];
    if (!shape) throw new ConfigError(`hook_point: '${config.hook_point}' is not a hook point of ${config.model_name} (see 'sae-rx hooks ${dir}')`);
    const width = config.hook_point_head_index !== null && shape.length === 4 ? shape[3]! : shape.slice(2).reduce((a, b) => a * b, 1);
    if (width !== config.d_in) throw new ConfigError(`d_in ${config.d_in} does not match the width ${width} of '${config.hook_point}' in ${config.model_name}`);
    if (config.context_size > model.cfg.nCtx) throw new ConfigError(`context_size ${config.context_size} exceeds the model's context length ${model.cfg.nCtx}`);
    const tokenizer = await stage('loading the tokenizer', () => loadTokenizer(dir));
    const source = datasetDocuments(config).pipe(
      packContext({
        contextSize: config.context_size,
        prependBos: config.prepend_bos,
        tokenizer,
        ...(tokenizer.bosTokenId !== undefined ? { bosToken: tokenizer.bosTokenId } : {}),
        storeBatchSize: config.store_batch_size,
        maxDocumentTokens: model.cfg.nCtx,
      }),
      modelActivations(model, { hooks: [config.hook_point], headIndex: config.hook_point_head_index, withTokens: false }),
    );
    ctx.info(`caching ${config.hook_point} activations of ${config.model_name} into ${config.new_cached_activations_path}`);
    const s = await stage('caching activations', () => runner(config, { source, log: (l) => ctx.info(l) }));
    ctx.emit(
      { type: 'result', command: 'cache', path: s.path, shards: s.shards, tokens: s.tokens, bytes: s.bytes, seconds: s.seconds, tokensPerSecond: s.tokensPerSecond },
      `activations: ${s.path} (${s.shards} shards, ${s.tokens} tokens, ${(s.bytes / 1e6).toFixed(1)} MB, ${Math.round(s.tokensPerSecond)} tokens/s)`,
    );
  } finally {
    model.dispose();
  }
  return 0;
}

export const cache: Command = {
  name: 'cache',
  usage: 'cache CONFIG',
  summary: 'cache a model hook\'s activations to disk (SAELens CacheActivationsRunner)',
  flags: FLAGS,
  acceptsConfigFields: true,
  help: () => ({
    usage: 'cache CONFIG [--FIELD VALUE ...]',
    summary: 'Run the model over the dataset and store the hook\'s activations as shuffled safetensors shards in new_cached_activations_path.',
    description: 'Any config field can be overridden on the command line: --training-tokens 1e6 --context-size 64.',
    flags: FLAGS,
    sections: [{ title: 'Cache-activations runner config fields (SAELens CacheActivationsRunnerConfig)', lines: fieldLines(FIELD_TABLES.cache_activations) }],
  }),
  run,
};
