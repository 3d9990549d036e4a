/**
 * `sae-rx models [DIR ...]`: the model families sae-rx runs, and the model folders found in
 * the given folders (and in $SAE_RX_MODELS, a path list), read from their config.json only.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { FlagSpec, ParsedArgs } from '../args.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import type { Command } from './command.js';

/** The families HookedTransformer implements, with the Hugging Face names it recognises. */
export const MODEL_FAMILIES = [
  { family: 'gpt2', hf: 'GPT2LMHeadModel (model_type gpt2)', examples: 'gpt2, distilgpt2, tiny GPT-2s' },
  { family: 'gpt-neox', hf: 'GPTNeoXForCausalLM (model_type gpt_neox)', examples: 'EleutherAI/pythia-*' },
  { family: 'llama', hf: 'LlamaForCausalLM (model_type llama)', examples: 'TinyLlama, stories* (llama2.c)' },
] as const;

interface FoundModel {
  readonly dir: string;
  readonly family?: string;
  readonly nLayers?: number;
  readonly dModel?: number;
  readonly nCtx?: number;
  readonly error?: string;
}

type ReadModelConfig = typeof import('../../model/loadModel.js').readModelConfig;

function describe(dir: string, readModelConfig: ReadModelConfig): FoundModel {
  try {
    const c = readModelConfig(dir);
    return { dir, family: c.family, nLayers: c.nLayers, dModel: c.dModel, nCtx: c.nCtx };
  } catch (e) {
    return { dir, error: (e as Error).message };
  }
}

/** A model folder itself, or the model folders one level below. */
function findModels(root: string, readModelConfig: ReadModelConfig): FoundModel[] {
  if (existsSync(path.join(root, 'config.json'))) return [describe(root, readModelConfig)];
  return readdirSync(root)
    .map((n) => path.join(root, n))
    .filter((p) => statSync(p).isDirectory() && existsSync(path.join(p, 'config.json')))
    .sort()
    .map((d) => describe(d, readModelConfig));
}

async function run(ctx: CliContext, args: ParsedArgs): Promise<number> {
  // loaded when the command runs, not when the CLI starts (cli/commands/index.ts says why)
  const { readModelConfig } = await import('../../model/loadModel.js');
  const roots = [...args.positionals.map((p) => path.resolve(ctx.io.cwd, p))];
  for (const p of (ctx.io.env['SAE_RX_MODELS'] ?? '').split(path.delimiter).filter(Boolean)) {
    if (existsSync(p)) roots.push(path.resolve(ctx.io.cwd, p));
  }
  for (const r of args.positionals) {
    if (!existsSync(path.resolve(ctx.io.cwd, r)) || !statSync(path.resolve(ctx.io.cwd, r)).isDirectory()) throw new UsageError(`not a folder: ${r}`);
  }
  const found = roots.flatMap((r) => findModels(r, readModelConfig));
  if (ctx.flags.json) {
    for (const f of MODEL_FAMILIES) ctx.record({ type: 'family', ...f });
    for (const m of found) ctx.record({ type: 'model', ...m });
    return 0;
  }
  const lines = ['Supported model families:', ...MODEL_FAMILIES.map((f) => `  ${f.family.padEnd(9)} ${f.hf}; e.g. ${f.examples}`)];
  if (roots.length > 0) {
    lines.push('', found.length ? 'Model folders:' : `No model folders (config.json) in ${roots.join(', ')}`);
    for (const m of found) {
      lines.push(m.error ? `  ${m.dir}  (not loadable: ${m.error})` : `  ${m.dir}  ${m.family}, ${m.nLayers} layers, d_model ${m.dModel}, context ${m.nCtx}`);
    }
  } else {
    lines.push('', "Give folders to list the models in them: 'sae-rx models DIR ...' (or set SAE_RX_MODELS).");
  }
  ctx.print(lines.join('\n'));
  return 0;
}

const FLAGS: readonly FlagSpec[] = [];

export const models: Command = {
  name: 'models',
  usage: 'models [DIR ...]',
  summary: 'list the supported model families and the model folders in DIR',
  flags: FLAGS,
  help: () => ({
    usage: 'models [DIR ...]',
    summary: 'List the model families sae-rx runs, and the Hugging Face model folders in each DIR (and in $SAE_RX_MODELS, a path list).',
    flags: FLAGS,
  }),
  run,
};
