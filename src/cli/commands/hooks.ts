/**
 * `sae-rx hooks MODEL`: the model's hook points (TransformerLens names) and their shapes, from
 * its config.json alone (a local model folder, or a hub repo whose config.json alone is
 * downloaded: no weights are read).
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { hubConfig } from '../../hub/config.js';
import type { HookedTransformerConfig } from '../../model/ModelConfig.js';
import { type FlagSpec, type ParsedArgs, looksLikeRepo } from '../args.js';
import type { CliContext } from '../context.js';
import { UsageError, stage } from '../errors.js';
import { hookShapesFor } from '../../model/hookPoints.js';
import type { Command } from './command.js';

const FLAGS: readonly FlagSpec[] = [
  { name: 'filter', type: 'string', valueName: 'TEXT', description: 'only hook names containing TEXT (e.g. resid_pre, blocks.3.)' },
  { name: 'revision', type: 'string', valueName: 'REV', description: 'hub branch, tag or commit (default main); hub repos only' },
];

/**
 * Shapes with `batch` and `pos` for the input dimensions: shapes for a [1,1] and a [2,3]
 * input are compared, so a dimension that follows the batch or the position is named whatever
 * the model's own sizes are.
 */
export function symbolicShapes(cfg: HookedTransformerConfig): Array<{ name: string; shape: Array<number | 'batch' | 'pos'> }> {
  const a = hookShapesFor(cfg, 1, 1);
  const b = hookShapesFor(cfg, 2, 3);
  return Object.keys(a).map((name) => ({
    name,
    shape: a[name]!.map((d, i) => {
      const e = b[name]![i]!;
      return d === e ? d : e === 2 * d ? 'batch' : 'pos';
    }),
  }));
}

async function run(ctx: CliContext, args: ParsedArgs): Promise<number> {
  // loaded when the command runs, not when the CLI starts (cli/commands/index.ts says why)
  const { downloadHubFile } = await import('../../hub/download.js');
  const { readModelConfig } = await import('../../model/loadModel.js');
  if (args.positionals.length !== 1) throw new UsageError(`hooks takes one MODEL (a Hugging Face model folder or hub repo owner/name), got ${args.positionals.length} arguments`);
  const source = args.positionals[0]!;
  const revision = typeof args.flags['revision'] === 'string' ? args.flags['revision'] : undefined;
  const dir = path.resolve(ctx.io.cwd, source);
  let cfg: HookedTransformerConfig;
  if (existsSync(dir)) {
    if (revision !== undefined) throw new UsageError('--revision is for hub repos, not local folders');
    if (!existsSync(path.join(dir, 'config.json'))) throw new UsageError(`${source}: a model folder needs a config.json`);
    cfg = readModelConfig(dir);
  } else {
    if (!looksLikeRepo(source)) throw new UsageError(`hooks: ${source} is neither a model folder nor a hub repo id (owner/name)`);
    const hub = hubConfig({ warn: (m) => ctx.warn(m) }, ctx.io.env);
    const file = await stage(`fetching config.json of hub repo ${source}`, () =>
      downloadHubFile({ repo: source, path: 'config.json', ...(revision ? { revision } : {}) }, hub));
    cfg = readModelConfig(path.dirname(file), source.split('/')[1]);
  }
  const filter = typeof args.flags['filter'] === 'string' ? args.flags['filter'] : undefined;
  const hooks = symbolicShapes(cfg).filter((h) => filter === undefined || h.name.includes(filter));
  ctx.info(`${cfg.modelName}: ${cfg.family}, ${cfg.nLayers} layers, d_model ${cfg.dModel}, ${cfg.nHeads} heads, d_mlp ${cfg.dMlp}, context ${cfg.nCtx}`);
  if (ctx.flags.json) {
    for (const h of hooks) ctx.record({ type: 'hook', name: h.name, shape: h.shape });
  } else {
    const w = Math.max(0, ...hooks.map((h) => h.name.length));
    ctx.print(hooks.map((h) => `${h.name.padEnd(w)}  [${h.shape.join(', ')}]`).join('\n'));
  }
  return 0;
}

export const hooks: Command = {
  name: 'hooks',
  usage: 'hooks MODEL',
  summary: "list a model's hook points and their activation shapes",
  flags: FLAGS,
  help: () => ({
    usage: 'hooks MODEL [--filter TEXT] [--revision REV]',
    summary: 'List the hook points of MODEL (a Hugging Face model folder, or a hub repo owner/name: only its config.json is fetched), with their shapes; batch and pos are the input dimensions.',
    flags: FLAGS,
  }),
  run,
};
