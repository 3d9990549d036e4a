/**
 * `sae-rx pretrained SOURCE [SAE_PATH]`: a minimal loader of SAEs saved in SAELens's layout,
 * from a local folder or a Hugging Face Hub repo. Without SAE_PATH it lists the SAE folders
 * (those with a cfg.json) in SOURCE; with it (or when SOURCE is itself an SAE folder) it
 * fetches cfg.json, sae_weights.safetensors and sparsity.safetensors (if present), loads the
 * SAE and prints what it is.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { hubConfig } from '../../hub/config.js';
import { downloadHubFile, hubFileExists, listHubFiles } from '../../hub/download.js';
import { SAE_CFG_PATH, SAE_WEIGHTS_PATH, SPARSITY_PATH, loadSae, loadSaeSparsity } from '../../sae/saeFolder.js';
import { type FlagSpec, type ParsedArgs, looksLikeRepo } from '../args.js';
import { cliBackend } from '../backend.js';
import type { CliContext } from '../context.js';
import { UsageError, stage } from '../errors.js';
import type { Command } from './command.js';

const FLAGS: readonly FlagSpec[] = [
  { name: 'revision', type: 'string', valueName: 'REV', description: 'hub branch, tag or commit (default main)' },
];

/** SAE folders (with cfg.json) under a local folder, relative to it, up to `depth` levels down. */
function localSaeFolders(root: string, depth = 4, rel = ''): string[] {
  const dir = path.join(root, rel);
  const out: string[] = [];
  if (existsSync(path.join(dir, SAE_CFG_PATH))) out.push(rel || '.');
  if (depth === 0) return out;
  for (const n of readdirSync(dir).sort()) {
    if (n.startsWith('.')) continue;
    const p = path.join(dir, n);
    if (statSync(p).isDirectory()) out.push(...localSaeFolders(root, depth - 1, path.join(rel, n)));
  }
  return out;
}

async function run(ctx: CliContext, args: ParsedArgs): Promise<number> {
  const [source, saePath, ...extra] = args.positionals;
  if (source === undefined || extra.length > 0) {
    throw new UsageError('pretrained takes SOURCE (a local folder or a hub repo owner/name) and optionally SAE_PATH (a folder inside it)');
  }
  const revision = typeof args.flags['revision'] === 'string' ? args.flags['revision'] : undefined;
  const local = path.resolve(ctx.io.cwd, source);
  const isLocal = existsSync(local);
  if (!isLocal && !looksLikeRepo(source)) throw new UsageError(`pretrained: ${source} is neither a folder nor a hub repo id (owner/name)`);
  if (isLocal && revision !== undefined) throw new UsageError('--revision is for hub repos, not local folders');

  let saeDir: string | undefined;
  if (isLocal) {
    const dir = saePath !== undefined ? path.join(local, saePath) : local;
    if (!existsSync(dir)) throw new UsageError(`no such SAE folder: ${path.join(source, saePath ?? '')}`);
    if (existsSync(path.join(dir, SAE_CFG_PATH))) saeDir = dir;
    else {
      const found = localSaeFolders(dir);
      listing(ctx, source, found);
      return 0;
    }
  } else {
    const hub = hubConfig({ warn: (m) => ctx.warn(m) }, ctx.io.env);
    const ref = { repo: source, ...(revision ? { revision } : {}) };
    if (saePath === undefined) {
      const files = await stage(`listing hub repo ${source}`, () => listHubFiles(ref, hub));
      const cfgs = files.filter((f) => f.type === 'file' && (f.path === SAE_CFG_PATH || f.path.endsWith(`/${SAE_CFG_PATH}`)));
      const dirs = cfgs.map((f) => path.posix.dirname(f.path));
      if (dirs.length === 1 && dirs[0] === '.') saeDir = await download(ctx, ref, '', hub);
      else {
        listing(ctx, source, dirs);
        return 0;
      }
    } else saeDir = await download(ctx, ref, saePath.replace(/^\/+|\/+$/g, ''), hub);
  }

  await cliBackend(ctx);
  const sae = await stage(`loading the SAE in ${saeDir}`, () => loadSae(saeDir!));
  try {
    const sparsity = await stage('reading the feature sparsity', () => loadSaeSparsity(saeDir!));
    const c = sae.cfg;
    let dense: { dead: number; meanLog10: number } | undefined;
    if (sparsity) {
      let dead = 0;
      let sum = 0;
      let n = 0;
      for (const v of sparsity) {
        // SAELens logs log10(freq + 1e-10): -10 means the feature never fired.
        if (v <= -9.99) dead++;
        else {
          sum += v;
          n++;
        }
      }
      dense = { dead, meanLog10: n ? sum / n : NaN };
    }
    const rec = {
      type: 'sae',
      source,
      path: saeDir,
      architecture: c.architecture,
      d_in: c.dIn,
      d_sae: c.dSae,
      model_name: c.modelName,
      hook_point: c.hookPoint,
      hook_point_layer: c.hookPointLayer,
      hook_point_head_index: c.hookPointHeadIndex,
      context_size: c.contextSize,
      activation_fn: c.activationFn,
      ...(dense ? { dead_features: dense.dead, mean_log10_feature_density: dense.meanLog10 } : {}),
    };
    ctx.emit(
      rec,
      [
        `SAE ${saeDir}`,
        `  ${c.architecture}, d_in ${c.dIn}, d_sae ${c.dSae}, activation ${c.activationFn}`,
        `  reads ${c.modelName} at ${c.hookPoint}${c.hookPointHeadIndex !== null ? ` head ${c.hookPointHeadIndex}` : ''} (layer ${c.hookPointLayer}), context ${c.contextSize}`,
        dense ? `  sparsity: ${dense.dead} features never fired, mean log10 density of the others ${dense.meanLog10.toFixed(3)}` : '  no sparsity.safetensors',
      ].join('\n'),
    );
  } finally {
    sae.dispose();
  }
  return 0;
}

function listing(ctx: CliContext, source: string, dirs: readonly string[]): void {
  if (ctx.flags.json) {
    for (const d of dirs) ctx.record({ type: 'sae_folder', source, path: d });
    return;
  }
  ctx.print(
    dirs.length === 0
      ? `no SAE folders (${SAE_CFG_PATH}) in ${source}`
      : [`SAE folders in ${source} (load one with 'sae-rx pretrained ${source} PATH'):`, ...dirs.map((d) => `  ${d}`)].join('\n'),
  );
}

/** Downloads an SAE folder's files from the hub into the cache; returns the local folder. */
async function download(ctx: CliContext, ref: { repo: string; revision?: string }, dir: string, hub: ReturnType<typeof hubConfig>): Promise<string> {
  const p = (f: string) => (dir ? `${dir}/${f}` : f);
  return stage(`downloading ${ref.repo}${dir ? `/${dir}` : ''}`, async () => {
    ctx.info(`fetching ${p(SAE_CFG_PATH)}, ${p(SAE_WEIGHTS_PATH)} from ${ref.repo}`);
    const cfgFile = await downloadHubFile({ ...ref, path: p(SAE_CFG_PATH) }, hub);
    const weights = await downloadHubFile({ ...ref, path: p(SAE_WEIGHTS_PATH) }, hub);
    if (await hubFileExists({ ...ref, path: p(SPARSITY_PATH) }, hub)) await downloadHubFile({ ...ref, path: p(SPARSITY_PATH) }, hub);
    // The files of one revision share a snapshot folder in the cache.
    if (path.dirname(cfgFile) !== path.dirname(weights)) throw new Error(`${SAE_CFG_PATH} and ${SAE_WEIGHTS_PATH} landed in different cache folders`);
    return path.dirname(cfgFile);
  });
}

export const pretrained: Command = {
  name: 'pretrained',
  usage: 'pretrained SOURCE [SAE_PATH]',
  summary: 'list or load SAELens-layout SAEs from a local folder or a hub repo',
  flags: FLAGS,
  help: () => ({
    usage: 'pretrained SOURCE [SAE_PATH] [--revision REV]',
    summary:
      'SOURCE is a local folder or a Hugging Face Hub repo (owner/name). Without SAE_PATH, lists the SAE folders (cfg.json) in it;\n' +
      'with SAE_PATH (or when SOURCE is an SAE folder), downloads cfg.json, sae_weights.safetensors and sparsity.safetensors\n' +
      'into the HF cache, loads the SAE and prints its shape, hook point and sparsity. Honours HF_TOKEN, HF_ENDPOINT, HF_HUB_OFFLINE.',
    flags: FLAGS,
  }),
  run,
};
