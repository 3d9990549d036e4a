/** `sae-rx hooks MODEL_DIR`: the model's hook points (TransformerLens names) and their shapes. */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { HookedTransformer } from '../../model/HookedTransformer.js';
import type { FlagSpec, ParsedArgs } from '../args.js';
import { cliBackend } from '../backend.js';
import type { CliContext } from '../context.js';
import { UsageError, stage } from '../errors.js';
import type { Command } from './command.js';

const FLAGS: readonly FlagSpec[] = [
  { name: 'filter', type: 'string', valueName: 'TEXT', description: 'only hook names containing TEXT (e.g. resid_pre, blocks.3.)' },
];

/**
 * Shapes with `batch` and `pos` for the input dimensions: shapes for a [1,1] and a [2,3]
 * input are compared, so a dimension that follows the batch or the position is named whatever
 * the model's own sizes are.
 */
export function symbolicShapes(model: HookedTransformer): Array<{ name: string; shape: Array<number | 'batch' | 'pos'> }> {
  const a = model.hookShapes(1, 1);
  const b = model.hookShapes(2, 3);
  return Object.keys(a).map((name) => ({
    name,
    shape: a[name]!.map((d, i) => {
      const e = b[name]![i]!;
      return d === e ? d : e === 2 * d ? 'batch' : 'pos';
    }),
  }));
}

async function run(ctx: CliContext, args: ParsedArgs): Promise<number> {
  if (args.positionals.length !== 1) throw new UsageError(`hooks takes one MODEL_DIR (a Hugging Face model folder), got ${args.positionals.length} arguments`);
  const dir = path.resolve(ctx.io.cwd, args.positionals[0]!);
  if (!existsSync(dir)) throw new UsageError(`model folder not found: ${args.positionals[0]}`);
  await cliBackend(ctx);
  // Unprocessed weights: loading is quicker and the hook points are the same.
  const model = await stage(`loading the model in ${dir}`, () => HookedTransformer.fromFolder(dir, { processWeights: false }));
  try {
    const filter = typeof args.flags['filter'] === 'string' ? args.flags['filter'] : undefined;
    const hooks = symbolicShapes(model).filter((h) => filter === undefined || h.name.includes(filter));
    const c = model.cfg;
    ctx.info(`${c.modelName}: ${c.family}, ${c.nLayers} layers, d_model ${c.dModel}, ${c.nHeads} heads, d_mlp ${c.dMlp}, context ${c.nCtx}`);
    if (ctx.flags.json) {
      for (const h of hooks) ctx.record({ type: 'hook', name: h.name, shape: h.shape });
    } else {
      const w = Math.max(0, ...hooks.map((h) => h.name.length));
      ctx.print(hooks.map((h) => `${h.name.padEnd(w)}  [${h.shape.join(', ')}]`).join('\n'));
    }
  } finally {
    model.dispose();
  }
  return 0;
}

export const hooks: Command = {
  name: 'hooks',
  usage: 'hooks MODEL_DIR',
  summary: "list a model's hook points and their activation shapes",
  flags: FLAGS,
  help: () => ({
    usage: 'hooks MODEL_DIR [--filter TEXT]',
    summary: 'List the hook points of the model in MODEL_DIR (config.json + safetensors), with their shapes; batch and pos are the input dimensions.',
    flags: FLAGS,
  }),
  run,
};
