/**
 * `sae-rx eval SAE_DIR --model DIR --dataset PATH [--batches N]`: SAELens's evals of a saved
 * SAE spliced into its model (CE loss with the SAE, L0, explained variance, ...).
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { FlagSpec, ParsedArgs } from '../args.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { optionalFunction } from '../runners.js';
import type { Command } from './command.js';

const FLAGS: readonly FlagSpec[] = [
  { name: 'model', type: 'string', valueName: 'DIR', description: 'the model folder (Hugging Face layout) the SAE reads' },
  { name: 'dataset', type: 'string', valueName: 'PATH', description: 'a local .txt/.jsonl/.parquet file or a hub dataset (owner/name)' },
  { name: 'batches', type: 'string', valueName: 'N', description: 'number of evaluation batches (default 10)' },
  { name: 'batch-size', type: 'string', valueName: 'N', description: 'sequences per batch (default 8)' },
];

function positiveInt(flag: string, v: string | boolean | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isSafeInteger(n) || n <= 0) throw new UsageError(`--${flag}: expected a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

export interface EvalCliArgs {
  readonly saeDir: string;
  readonly modelDir: string;
  readonly dataset: string;
  readonly batches: number;
  readonly batchSize: number;
}

/** Checks the command line of `eval` (exit 2 on anything wrong). */
export function evalArgs(ctx: CliContext, args: ParsedArgs): EvalCliArgs {
  if (args.positionals.length !== 1) throw new UsageError(`eval takes one SAE_DIR, got ${args.positionals.length} arguments`);
  const saeDir = path.resolve(ctx.io.cwd, args.positionals[0]!);
  if (!existsSync(path.join(saeDir, 'cfg.json'))) throw new UsageError(`${args.positionals[0]}: not an SAE folder (no cfg.json)`);
  const model = args.flags['model'];
  if (typeof model !== 'string') throw new UsageError('eval needs --model DIR (the model folder the SAE reads)');
  const modelDir = path.resolve(ctx.io.cwd, model);
  if (!existsSync(modelDir)) throw new UsageError(`--model ${model}: no such folder`);
  const dataset = args.flags['dataset'];
  if (typeof dataset !== 'string') throw new UsageError('eval needs --dataset PATH (text, jsonl or parquet file, or a hub dataset owner/name)');
  return {
    saeDir,
    modelDir,
    dataset,
    batches: positiveInt('batches', args.flags['batches'], 10),
    batchSize: positiveInt('batch-size', args.flags['batch-size'], 8),
  };
}

async function run(ctx: CliContext, args: ParsedArgs): Promise<number> {
  evalArgs(ctx, args);
  await optionalFunction('SAE evals', 'runEvals', ['analysis/evals']);
  throw new UsageError('unreachable');
}

export const evalCommand: Command = {
  name: 'eval',
  usage: 'eval SAE_DIR --model DIR --dataset PATH',
  summary: 'evaluate a saved SAE spliced into its model (CE loss recovered, L0, ...)',
  flags: FLAGS,
  help: () => ({
    usage: 'eval SAE_DIR --model DIR --dataset PATH [--batches N] [--batch-size N]',
    summary: "Run SAELens's evals of the SAE in SAE_DIR on the model and dataset: CE loss with and without the SAE, L0, explained variance.",
    flags: FLAGS,
  }),
  run,
};
