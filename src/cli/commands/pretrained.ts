/**
 * `sae-rx pretrained [RELEASE|SOURCE] [SAE_ID|SAE_PATH]`: SAEs by SAELens release name, or
 * saved in SAELens's layout in a local folder or a Hugging Face Hub repo.
 * - no argument: the releases of the registry (SAELens's list, plus --registry / SAE_RX_PRETRAINED_YAML);
 * - RELEASE: its SAE ids, with L0, variance explained and Neuronpedia id where known;
 * - RELEASE SAE_ID: loads it (fromPretrained: hub download, loader, overrides, norm folding);
 * - SOURCE (a local folder, or a hub repo `owner/name` that is not a release): lists the SAE
 *   folders (with a cfg.json) in it; with SAE_PATH (or when SOURCE is an SAE folder) loads one.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { hubConfig } from '../../hub/config.js';
import type { PretrainedRegistry, PretrainedRelease } from '../../sae/pretrained/registry.js';
import type { Sae } from '../../sae/Sae.js';
import { type FlagSpec, type ParsedArgs, looksLikeRepo } from '../args.js';
import type { CliContext } from '../context.js';
import { UsageError, stage } from '../errors.js';
import { SAE_CFG_PATH } from '../../sae/saeFolderFiles.js';
import type { Command } from './command.js';

const FLAGS: readonly FlagSpec[] = [
  { name: 'revision', type: 'string', valueName: 'REV', description: 'hub branch, tag or commit (default main)' },
  { name: 'registry', type: 'string', valueName: 'FILE', description: 'a pretrained_saes.yaml of your own, added to the shipped list (also: SAE_RX_PRETRAINED_YAML, \':\'-separated)' },
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
  // loaded when the command runs, not when the CLI starts (cli/commands/index.ts says why)
  const { listHubFiles } = await import('../../hub/download.js');
  const { fromPretrained } = await import('../../sae/pretrained/fromPretrained.js');
  const { pretrainedRegistry } = await import('../../sae/pretrained/registry.js');
  const { loadSae, loadSaeSparsity } = await import('../../sae/saeFolder.js');
  const { cliBackend } = await import('../backend.js');
  const [source, saePath, ...extra] = args.positionals;
  if (extra.length > 0) {
    throw new UsageError('pretrained takes at most RELEASE SAE_ID (or SOURCE SAE_PATH, SOURCE a local folder or hub repo owner/name)');
  }
  const revision = typeof args.flags['revision'] === 'string' ? args.flags['revision'] : undefined;
  const registryFile = typeof args.flags['registry'] === 'string' ? path.resolve(ctx.io.cwd, args.flags['registry']) : undefined;
  const registry = (): PretrainedRegistry => {
    const reg = pretrainedRegistry({ ...(registryFile ? { files: [registryFile] } : {}), env: ctx.io.env });
    for (const w of reg.warnings) ctx.warn(w);
    return reg;
  };
  if (source === undefined) {
    listReleases(ctx, registry());
    return 0;
  }
  const local = path.resolve(ctx.io.cwd, source);
  const isLocal = existsSync(local);
  if (isLocal && revision !== undefined) throw new UsageError('--revision is for hub repos, not local folders');

  let saeDir: string | undefined;
  let loaded: { sae: Sae; sparsity: Float32Array | null; extra: Record<string, unknown> } | undefined;
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
    const reg = registry();
    const release = reg.releases.get(source);
    if (!release && !looksLikeRepo(source)) {
      throw new UsageError(`pretrained: ${source} is not a release of the registry ('sae-rx pretrained' lists them), a folder, or a hub repo id (owner/name)`);
    }
    if (release && saePath === undefined) {
      listReleaseSaes(ctx, release);
      return 0;
    }
    const hub = hubConfig({ warn: (m) => ctx.warn(m) }, ctx.io.env);
    if (!release && saePath === undefined) {
      const ref = { repo: source, ...(revision ? { revision } : {}) };
      const files = await stage(`listing hub repo ${source}`, () => listHubFiles(ref, hub));
      const cfgs = files.filter((f) => f.type === 'file' && (f.path === SAE_CFG_PATH || f.path.endsWith(`/${SAE_CFG_PATH}`)));
      const dirs = cfgs.map((f) => path.posix.dirname(f.path));
      if (!(dirs.length === 1 && dirs[0] === '.')) {
        listing(ctx, source, dirs);
        return 0;
      }
    }
    const id = saePath ?? '';
    await cliBackend(ctx);
    const p = await stage(release ? `loading ${source} ${id}` : `downloading ${source}${id ? `/${id}` : ''}`, () =>
      fromPretrained(source, id, { registry: reg, hub, ...(revision ? { revision } : {}), warn: (m) => ctx.warn(m) }),
    );
    saeDir = p.folder;
    loaded = {
      sae: p.sae,
      sparsity: p.sparsity,
      extra: {
        ...(release ? { release: source, sae_id: id, repo_id: p.target.repoId } : {}),
        ...(p.target.entry?.neuronpedia !== undefined ? { neuronpedia_id: p.target.entry.neuronpedia } : {}),
        ...(p.target.entry?.l0 !== undefined ? { expected_l0: p.target.entry.l0 } : {}),
        ...(p.foldedNormScalingFactor !== undefined ? { folded_norm_scaling_factor: p.foldedNormScalingFactor } : {}),
      },
    };
  }

  if (!loaded) {
    await cliBackend(ctx);
    const sae = await stage(`loading the SAE in ${saeDir}`, () => loadSae(saeDir!));
    try {
      loaded = { sae, sparsity: await stage('reading the feature sparsity', () => loadSaeSparsity(saeDir!)), extra: {} };
    } catch (e) {
      sae.dispose();
      throw e;
    }
  }
  const { sae, sparsity } = loaded;
  try {
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
      ...loaded.extra,
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
    const ex = loaded.extra;
    ctx.emit(
      rec,
      [
        `SAE ${saeDir}`,
        ...(ex['release'] !== undefined ? [`  release ${String(ex['release'])}, id ${String(ex['sae_id'])} (${String(ex['repo_id'])})${ex['neuronpedia_id'] !== undefined ? `, Neuronpedia ${String(ex['neuronpedia_id'])}` : ''}`] : []),
        `  ${c.architecture}, d_in ${c.dIn}, d_sae ${c.dSae}, activation ${c.activationFn}`,
        `  reads ${c.modelName} at ${c.hookPoint}${c.hookPointHeadIndex !== null ? ` head ${c.hookPointHeadIndex}` : ''} (layer ${c.hookPointLayer}), context ${c.contextSize}`,
        ...(ex['folded_norm_scaling_factor'] !== undefined ? [`  norm scaling factor ${String(ex['folded_norm_scaling_factor'])} folded into the weights`] : []),
        dense ? `  sparsity: ${dense.dead} features never fired, mean log10 density of the others ${dense.meanLog10.toFixed(3)}` : '  no sparsity.safetensors',
      ].join('\n'),
    );
  } finally {
    sae.dispose();
  }
  return 0;
}

function listReleases(ctx: CliContext, reg: PretrainedRegistry): void {
  const rows = [...reg.releases.values()];
  if (ctx.flags.json) {
    for (const r of rows) {
      ctx.record({ type: 'release', release: r.release, repo_id: r.repoId, model: r.model, conversion_func: r.conversionFunc, saes: r.saes.length, source: r.source });
    }
    return;
  }
  const w = Math.max(...rows.map((r) => r.release.length));
  ctx.print(
    [
      `${rows.length} releases (list one's SAEs with 'sae-rx pretrained RELEASE'; load with 'sae-rx pretrained RELEASE SAE_ID'):`,
      ...rows.map((r) => `  ${r.release.padEnd(w)}  ${r.model}, ${r.saes.length} SAEs, ${r.repoId}${r.conversionFunc ? ` [loader ${r.conversionFunc}]` : ''}`),
    ].join('\n'),
  );
}

function listReleaseSaes(ctx: CliContext, r: PretrainedRelease): void {
  if (ctx.flags.json) {
    for (const s of r.saes) {
      ctx.record({
        type: 'release_sae', release: r.release, id: s.id, path: s.path, repo_id: r.repoId,
        ...(s.l0 !== undefined ? { l0: s.l0 } : {}),
        ...(s.varianceExplained !== undefined ? { variance_explained: s.varianceExplained } : {}),
        ...(s.neuronpedia !== undefined ? { neuronpedia: s.neuronpedia } : {}),
      });
    }
    return;
  }
  const w = Math.max(...r.saes.map((s) => s.id.length));
  ctx.print(
    [
      `${r.release}: ${r.saes.length} SAEs of ${r.model} in ${r.repoId}${r.conversionFunc ? ` (loader ${r.conversionFunc})` : ''}:`,
      ...r.saes.map((s) =>
        [
          `  ${s.id.padEnd(w)}`,
          s.l0 !== undefined ? `L0 ${s.l0}` : '',
          s.varianceExplained !== undefined ? `var. expl. ${s.varianceExplained}` : '',
          s.neuronpedia !== undefined ? `neuronpedia ${s.neuronpedia}` : '',
        ]
          .filter((x) => x !== '')
          .join('  '),
      ),
    ].join('\n'),
  );
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

export const pretrained: Command = {
  name: 'pretrained',
  usage: 'pretrained [RELEASE [SAE_ID] | SOURCE [SAE_PATH]]',
  summary: 'list or load SAEs by SAELens release name, or from a local folder or hub repo',
  flags: FLAGS,
  help: () => ({
    usage: 'pretrained [RELEASE [SAE_ID] | SOURCE [SAE_PATH]] [--registry FILE] [--revision REV]',
    summary:
      'Without arguments, lists the releases of the pretrained-SAE registry (SAELens v6.18.0\'s pretrained_saes.yaml, plus\n' +
      '--registry FILE and SAE_RX_PRETRAINED_YAML files). RELEASE lists its SAE ids (L0, variance explained, Neuronpedia id);\n' +
      'RELEASE SAE_ID downloads and loads one as SAELens\'s from_pretrained does (loader sae_lens; config_overrides; norm\n' +
      'scaling factor folded). SOURCE is a local folder or a hub repo (owner/name) not in the registry: without SAE_PATH, lists\n' +
      'the SAE folders (cfg.json) in it; with SAE_PATH (or when SOURCE is an SAE folder) loads it. Prints shape, hook point and\n' +
      'sparsity. Honours HF_TOKEN, HF_ENDPOINT, HF_HUB_OFFLINE.',
    flags: FLAGS,
  }),
  run,
};
