/**
 * `sae-rx cache CONFIG`: run SAELens's CacheActivationsRunner: the model over the dataset,
 * the hook's activations written as shuffled safetensors shards.
 */
import { FIELD_TABLES } from '../../config/files.js';
import { encodeRunnerConfig } from '../../config/runnerConfig.js';
import type { FlagSpec, ParsedArgs } from '../args.js';
import type { CliContext } from '../context.js';
import { UsageError, stage } from '../errors.js';
import { fieldLines } from '../help.js';
import { loadRunConfig } from '../runConfig.js';
import type { Command } from './command.js';
import { printConfig } from './printConfig.js';
import { QUEUE_FLAGS } from './worker.js';

const FLAGS: readonly FlagSpec[] = [
  { name: 'dry-run', type: 'boolean', description: 'check the config and print it decoded (defaults filled); cache nothing' },
  ...QUEUE_FLAGS,
  { name: 'store', type: 'string', valueName: 'DIR|s3://B/P', description: 'with --queue: where the shards go (default new_cached_activations_path); every worker must reach it' },
];

async function run(ctx: CliContext, args: ParsedArgs): Promise<number> {
  const [file, ...extra] = args.positionals;
  if (file === undefined) throw new UsageError("cache needs a CONFIG file (JSON or YAML); see 'sae-rx cache --help'");
  if (extra.length > 0) throw new UsageError(`cache takes one CONFIG file; unexpected ${extra.join(' ')}`);
  const { config, extraPositionals } = await loadRunConfig('cache', file, args, ['cache_activations'] as const, FLAGS, ctx.io.cwd);
  if (extraPositionals.length > 0) throw new UsageError(`cache takes one CONFIG file; unexpected ${extraPositionals.join(' ')}`);
  if (args.flags['dry-run'] === true) {
    printConfig(ctx, 'cache_activations', encodeRunnerConfig(config), []);
    return 0;
  }
  // the heavy parts load only when used (startup time: see cli/commands/index.ts)
  if (args.flags['queue'] !== undefined || ctx.io.env['SAE_RX_QUEUE']) return (await import('./distributedCache.js')).runDistributedCache(ctx, args, config);
  if (args.flags['store'] !== undefined) throw new UsageError('--store is for distributed caching: give --queue redis://HOST:PORT too (or set new_cached_activations_path)');
  const [{ cliBackend }, { runCacheActivations }] = await Promise.all([import('../backend.js'), import('../../runners/cacheActivationsRunner.js')]);
  await cliBackend(ctx);
  ctx.info(`caching ${config.hook_point} activations of ${config.model_name} into ${config.new_cached_activations_path}`);
  const s = await stage('caching activations', () => runCacheActivations(config, { log: (l) => ctx.info(l) }));
  ctx.emit(
    { type: 'result', command: 'cache', path: s.path, shards: s.shards, tokens: s.tokens, bytes: s.bytes, seconds: s.seconds, tokensPerSecond: s.tokensPerSecond },
    `activations: ${s.path} (${s.shards} shards, ${s.tokens} tokens, ${(s.bytes / 1e6).toFixed(1)} MB, ${Math.round(s.tokensPerSecond)} tokens/s)`,
  );
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
