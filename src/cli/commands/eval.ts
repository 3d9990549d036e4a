/**
 * `sae-rx eval SAE_DIR --dataset PATH [--model DIR|REPO] [--batches N]`: SAELens's evals of a saved
 * SAE spliced into its model (CE loss with the SAE, L0, explained variance, ...).
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { lastValueFrom, take, toArray } from 'rxjs';
import { hubConfig } from '../../hub/config.js';
import { ConfigError } from '../../errors.js';
import { type FlagSpec, type ParsedArgs, looksLikeRepo } from '../args.js';
import type { CliContext } from '../context.js';
import { UsageError, stage } from '../errors.js';
import type { Command } from './command.js';

const FLAGS: readonly FlagSpec[] = [
  { name: 'model', type: 'string', valueName: 'DIR|REPO', description: "the model the SAE reads: a Hugging Face model folder or hub repo (default: the SAE's model_name)" },
  { name: 'dataset', type: 'string', valueName: 'PATH', description: 'a local .txt/.jsonl/.parquet file or a hub dataset (owner/name)' },
  { name: 'batches', type: 'string', valueName: 'N', description: 'number of evaluation batches (default 10)' },
  { name: 'batch-size', type: 'string', valueName: 'N', description: 'sequences per batch (default 8)' },
  { name: 'context-size', type: 'string', valueName: 'N', description: "tokens per sequence (default: the SAE's context_size, at most the model's)" },
];

function positiveInt(flag: string, v: string | boolean | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isSafeInteger(n) || n <= 0) throw new UsageError(`--${flag}: expected a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

export interface EvalCliArgs {
  readonly saeDir: string;
  /** A local folder, or a hub repo id / model_name to resolve; undefined: the SAE's model_name. */
  readonly model?: string;
  readonly dataset: string;
  readonly batches: number;
  readonly batchSize: number;
  readonly contextSize?: number;
}

/** Checks the command line of `eval` (exit 2 on anything wrong). */
export function evalArgs(ctx: CliContext, args: ParsedArgs): EvalCliArgs {
  if (args.positionals.length !== 1) throw new UsageError(`eval takes one SAE_DIR, got ${args.positionals.length} arguments`);
  const saeDir = path.resolve(ctx.io.cwd, args.positionals[0]!);
  if (!existsSync(path.join(saeDir, 'cfg.json'))) throw new UsageError(`${args.positionals[0]}: not an SAE folder (no cfg.json)`);
  const m = args.flags['model'];
  let model: string | undefined;
  if (typeof m === 'string') {
    const local = path.resolve(ctx.io.cwd, m);
    if (existsSync(local)) model = local;
    else if (/^[./]/.test(m) || !m.includes('/')) throw new UsageError(`--model ${m}: no such folder (give a model folder or a hub repo owner/name)`);
    else model = m;
  }
  const dataset = args.flags['dataset'];
  if (typeof dataset !== 'string') throw new UsageError('eval needs --dataset PATH (text, jsonl or parquet file, or a hub dataset owner/name)');
  return {
    saeDir,
    ...(model !== undefined ? { model } : {}),
    dataset,
    batches: positiveInt('batches', args.flags['batches'], 10),
    batchSize: positiveInt('batch-size', args.flags['batch-size'], 8),
    ...(args.flags['context-size'] !== undefined ? { contextSize: positiveInt('context-size', args.flags['context-size'], 0) } : {}),
  };
}

async function run(ctx: CliContext, args: ParsedArgs): Promise<number> {
  // loaded when the command runs, not when the CLI starts (cli/commands/index.ts says why)
  const { runEvals } = await import('../../analysis/evals.js');
  const { HookedTransformer } = await import('../../model/HookedTransformer.js');
  const { loadTokenizer } = await import('../../model/tokenizer.js');
  const { packContext } = await import('../../operators/packContext.js');
  const { datasetDocuments, resolveModelFolder } = await import('../../runners/languageModelRunner.js');
  const { loadSae } = await import('../../sae/saeFolder.js');
  const { cliBackend } = await import('../backend.js');
  const a = evalArgs(ctx, args);
  const localData = existsSync(path.resolve(ctx.io.cwd, a.dataset));
  if (!localData && !looksLikeRepo(a.dataset)) {
    throw new UsageError(`--dataset ${a.dataset}: neither a local file/folder nor a hub dataset id (owner/name)`);
  }
  await cliBackend(ctx);
  // Hub settings from the command's environment (HF_TOKEN, HF_ENDPOINT, HF_HUB_OFFLINE), as in `pretrained` and `hooks`.
  const hub = hubConfig({ warn: (m) => ctx.warn(m) }, ctx.io.env);
  const sae = await stage(`loading the SAE in ${a.saeDir}`, () => loadSae(a.saeDir));
  let model: InstanceType<typeof HookedTransformer> | undefined;
  try {
    const name = a.model ?? sae.cfg.modelName;
    const modelDir = await stage(`finding the model ${name}`, () =>
      resolveModelFolder(name, hub).catch((e: unknown) => {
        if (a.model === undefined && e instanceof ConfigError) {
          throw new UsageError(`no --model given, and the SAE's model_name ${JSON.stringify(name)} is not a model folder or hub repo here: give --model DIR|REPO`, { cause: e });
        }
        throw e;
      }),
    );
    model = await stage(`loading the model in ${modelDir}`, () => HookedTransformer.fromFolder(modelDir));
    const m = model;
    const tokenizer = await stage('loading the tokenizer', () => loadTokenizer(modelDir));
    const contextSize = Math.min(a.contextSize ?? sae.cfg.contextSize, m.cfg.nCtx);
    ctx.info(`evaluating ${sae.cfg.hookPoint} SAE (d_sae ${sae.cfg.dSae}) on ${a.batches} batches of ${a.batchSize}×${contextSize} tokens from ${a.dataset}`);
    const docs$ = datasetDocuments({ dataset_path: localData ? path.resolve(ctx.io.cwd, a.dataset) : a.dataset, streaming: false }, hub);
    const batches = await stage(`reading ${a.dataset}`, () =>
      lastValueFrom(
        docs$.pipe(
          packContext({ contextSize, prependBos: sae.cfg.prependBos, tokenizer, storeBatchSize: a.batchSize, maxDocumentTokens: m.cfg.nCtx }),
          take(a.batches),
          toArray(),
        ),
      ),
    );
    if (batches.length === 0) throw new UsageError(`--dataset ${a.dataset}: no complete sequence of ${contextSize} tokens`);
    const result = await stage('evaluating', () => runEvals(m, sae, batches));
    ctx.record({ type: 'eval', saeDir: a.saeDir, model: modelDir, dataset: a.dataset, batches: result.batches, tokens: result.tokens, metrics: result.metrics });
    if (!ctx.flags.json) {
      const keys = Object.keys(result.metrics);
      const w = Math.max(...keys.map((k) => k.length));
      const fmt = (x: number) => (Number.isInteger(x) ? String(x) : Math.abs(x) >= 1e4 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(4) : x.toFixed(4));
      ctx.print(
        [`SAE ${a.saeDir} on ${result.batches} batches (${result.tokens} tokens, ${(result.ms / 1000).toFixed(1)} s):`, ...keys.map((k) => `  ${k.padEnd(w)}  ${fmt(result.metrics[k]!)}`)].join('\n'),
      );
    }
  } finally {
    sae.dispose();
    model?.dispose();
  }
  return 0;
}

export const evalCommand: Command = {
  name: 'eval',
  usage: 'eval SAE_DIR --dataset PATH [--model DIR]',
  summary: 'evaluate a saved SAE spliced into its model (CE loss recovered, L0, ...)',
  flags: FLAGS,
  help: () => ({
    usage: 'eval SAE_DIR --dataset PATH [--model DIR|REPO] [--batches N] [--batch-size N] [--context-size N]',
    summary: "Run SAELens's evals of the SAE in SAE_DIR on the model and dataset: CE loss with and without the SAE, L0, explained variance.",
    flags: FLAGS,
  }),
  run,
};
