/**
 * `sae-rx cache CONFIG`: run SAELens's CacheActivationsRunner: the model over the dataset,
 * the hook's activations written as shuffled safetensors shards.
 */
import type { Observable } from 'rxjs';
import { isObservable } from 'rxjs';
import type { CacheActivationsRunnerConfig } from '../../config/cacheActivationsRunnerConfig.js';
import type { FlagSpec, ParsedArgs } from '../args.js';
import type { CliContext } from '../context.js';
import { UsageError, stage } from '../errors.js';
import { fieldLines } from '../help.js';
import { FIELD_TABLES, loadRunConfig } from '../runConfig.js';
import { optionalFunction } from '../runners.js';
import type { Command } from './command.js';

const FLAGS: readonly FlagSpec[] = [];

type CacheRunner = (cfg: CacheActivationsRunnerConfig, opts: { log: (line: string) => void }) => Promise<unknown> | Observable<unknown>;

async function run(ctx: CliContext, args: ParsedArgs): Promise<number> {
  const [file, ...extra] = args.positionals;
  if (file === undefined) throw new UsageError("cache needs a CONFIG file (JSON or YAML); see 'sae-rx cache --help'");
  if (extra.length > 0) throw new UsageError(`cache takes one CONFIG file; unexpected ${extra.join(' ')}`);
  const { config, extraPositionals } = await loadRunConfig('cache', file, args, ['cache_activations'] as const, FLAGS, ctx.io.cwd);
  if (extraPositionals.length > 0) throw new UsageError(`cache takes one CONFIG file; unexpected ${extraPositionals.join(' ')}`);
  const runner = await optionalFunction<CacheRunner>('the cache-activations runner', 'cacheActivationsRunner', ['runners/cacheActivationsRunner', 'runners/index']);
  ctx.info(`caching ${config.hook_point} activations of ${config.model_name} into ${config.new_cached_activations_path}`);
  const result = await stage('caching activations', async () => {
    const r = runner(config, { log: (l) => ctx.info(l) });
    if (isObservable(r)) {
      let last: unknown;
      await new Promise<void>((resolve, reject) =>
        r.subscribe({ next: (x) => { last = x; ctx.record(x); }, error: reject, complete: resolve }),
      );
      return last;
    }
    return await r;
  });
  ctx.emit({ type: 'result', command: 'cache', path: config.new_cached_activations_path, result }, `activations: ${config.new_cached_activations_path}`);
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
