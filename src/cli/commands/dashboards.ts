/**
 * `sae-rx dashboards SOURCE [SAE_PATH] --dataset PATH --features 0:100 [--out FILE]`: feature
 * dashboards (SAELens's dashboard runner / sae_vis) of a saved SAE as one self-contained HTML
 * file. SOURCE is an SAE folder, a folder holding SAE folders (SAE_PATH picks one) or a hub repo
 * (SAE_PATH inside it). The dataset streams through the model once for all chosen features.
 */
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { take } from 'rxjs';
import { featureDashboards } from '../../analysis/dashboard/featureDashboards.js';
import { renderDashboards } from '../../sinks/dashboard/renderDashboards.js';
import { ConfigError } from '../../errors.js';
import { hubConfig } from '../../hub/config.js';
import { downloadHubFile, hubFileExists } from '../../hub/download.js';
import { writeFileAtomic } from '../../io/atomicWrite.js';
import { HookedTransformer } from '../../model/HookedTransformer.js';
import { loadTokenizer } from '../../model/tokenizer.js';
import { packContext } from '../../operators/packContext.js';
import { datasetDocuments, resolveModelFolder } from '../../runners/languageModelRunner.js';
import { fromPretrained } from '../../sae/pretrained/fromPretrained.js';
import { pretrainedRegistry } from '../../sae/pretrained/registry.js';
import { SAE_CFG_PATH, SAE_WEIGHTS_PATH, SPARSITY_PATH, loadSae } from '../../sae/saeFolder.js';
import { type FlagSpec, type ParsedArgs, looksLikeRepo } from '../args.js';
import { cliBackend } from '../backend.js';
import type { CliContext } from '../context.js';
import { UsageError, stage } from '../errors.js';
import type { Command } from './command.js';

const FLAGS: readonly FlagSpec[] = [
  { name: 'dataset', type: 'string', valueName: 'PATH', description: 'a local .txt/.jsonl/.parquet file or a hub dataset (owner/name)' },
  { name: 'features', type: 'string', valueName: 'SPEC', description: 'features to show: ranges and indices, e.g. 0:100 or 3,17,40:48 (end exclusive; default 0:10)' },
  { name: 'out', type: 'string', valueName: 'FILE', description: 'the HTML file to write (default feature_dashboards.html)' },
  { name: 'model', type: 'string', valueName: 'DIR|REPO', description: "the model the SAE reads (default: the SAE's model_name)" },
  { name: 'tokens', type: 'string', valueName: 'N', description: 'tokens to stream through the model (default 50000; whole sequences)' },
  { name: 'batch-size', type: 'string', valueName: 'N', description: 'sequences per model pass (default 16)' },
  { name: 'context-size', type: 'string', valueName: 'N', description: "tokens per sequence (default: the SAE's context_size, at most the model's)" },
  { name: 'top-k', type: 'string', valueName: 'N', description: 'top activating examples per feature (default 20)' },
  { name: 'quantiles', type: 'string', valueName: 'N', description: 'activation intervals to sample examples from (default 10)' },
  { name: 'seed', type: 'string', valueName: 'N', description: 'seed of the interval sampling (default 0)' },
  { name: 'revision', type: 'string', valueName: 'REV', description: 'hub branch, tag or commit of a hub SOURCE (default main)' },
];

function intFlag(args: ParsedArgs, flag: string, dflt: number, min = 1): number {
  const v = args.flags[flag];
  if (v === undefined) return dflt;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isSafeInteger(n) || n < min) throw new UsageError(`--${flag}: expected an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  return n;
}

/** `0:100`, `3,17,40:48` → feature indices (ranges end-exclusive, as Python slices). */
export function parseFeatureSpec(spec: string): number[] {
  const out: number[] = [];
  for (const part of spec.split(',').map((s) => s.trim())) {
    const m = /^(\d+)(?::(\d+))?$/.exec(part);
    if (!m) throw new UsageError(`--features: ${JSON.stringify(part)} is not an index or a range START:END (in ${JSON.stringify(spec)})`);
    const a = Number(m[1]);
    const b = m[2] !== undefined ? Number(m[2]) : a + 1;
    if (b <= a) throw new UsageError(`--features: the range ${part} is empty (END is exclusive)`);
    for (let i = a; i < b; i++) out.push(i);
  }
  const unique = [...new Set(out)];
  if (unique.length !== out.length) throw new UsageError(`--features: ${JSON.stringify(spec)} names a feature twice`);
  return unique;
}

/** The local SAE folder for SOURCE [SAE_PATH]: a folder as is, a hub repo's files through the HF cache. */
async function resolveSaeFolder(ctx: CliContext, source: string, saePath: string | undefined, revision: string | undefined): Promise<string> {
  const local = path.resolve(ctx.io.cwd, source);
  if (existsSync(local)) {
    if (revision !== undefined) throw new UsageError('--revision is for hub repos, not local folders');
    const dir = saePath !== undefined ? path.join(local, saePath) : local;
    if (!existsSync(path.join(dir, SAE_CFG_PATH))) {
      throw new UsageError(`${path.join(source, saePath ?? '')}: not an SAE folder (no ${SAE_CFG_PATH}); list the SAEs in a folder with 'sae-rx pretrained ${source}'`);
    }
    return dir;
  }
  if (!looksLikeRepo(source)) throw new UsageError(`dashboards: ${source} is neither a folder nor a hub repo id (owner/name)`);
  const hub = hubConfig({ warn: (m) => ctx.warn(m) }, ctx.io.env);
  const ref = { repo: source, ...(revision ? { revision } : {}) };
  const sub = (saePath ?? '').replace(/^\/+|\/+$/g, '');
  const p = (f: string) => (sub ? `${sub}/${f}` : f);
  return stage(`downloading the SAE ${source}${sub ? `/${sub}` : ''}`, async () => {
    const cfg = await downloadHubFile({ ...ref, path: p(SAE_CFG_PATH) }, hub);
    await downloadHubFile({ ...ref, path: p(SAE_WEIGHTS_PATH) }, hub);
    if (await hubFileExists({ ...ref, path: p(SPARSITY_PATH) }, hub)) await downloadHubFile({ ...ref, path: p(SPARSITY_PATH) }, hub);
    return path.dirname(cfg);
  });
}

/** A progress bar on stderr (redrawn in place on a terminal, a line per 10% otherwise). */
function progressBar(ctx: CliContext, total: number): { update(done: number): void; end(): void } {
  const on = ctx.flags.progress && !ctx.flags.quiet;
  const tty = !!ctx.io.stderr.isTTY;
  const t0 = performance.now();
  let lastTenth = -1;
  const line = (done: number) => {
    const frac = Math.min(1, done / total);
    const w = 30;
    const bar = '#'.repeat(Math.round(frac * w)).padEnd(w, '.');
    return `dashboards [${bar}] ${done.toLocaleString('en')}/${total.toLocaleString('en')} tokens ${((performance.now() - t0) / 1000).toFixed(1)} s`;
  };
  return {
    update(done) {
      if (!on) return;
      if (tty) ctx.io.stderr.write(`\r${line(done)}`);
      else {
        const tenth = Math.floor((Math.min(1, done / total) * 10));
        if (tenth !== lastTenth) ctx.io.stderr.write(`${line(done)}\n`);
        lastTenth = tenth;
      }
    },
    end() {
      if (on && tty) ctx.io.stderr.write('\n');
    },
  };
}

async function run(ctx: CliContext, args: ParsedArgs): Promise<number> {
  const [source, saePath, ...extra] = args.positionals;
  if (source === undefined || extra.length > 0) throw new UsageError('dashboards takes SOURCE (an SAE folder, a folder of SAEs or a hub repo) and optionally SAE_PATH inside it');
  const dataset = args.flags['dataset'];
  if (typeof dataset !== 'string') throw new UsageError('dashboards needs --dataset PATH (text, jsonl or parquet file, or a hub dataset owner/name)');
  const localData = existsSync(path.resolve(ctx.io.cwd, dataset));
  if (!localData && !looksLikeRepo(dataset)) throw new UsageError(`--dataset ${dataset}: neither a local file/folder nor a hub dataset id (owner/name)`);
  const spec = args.flags['features'];
  if (spec !== undefined && typeof spec !== 'string') throw new UsageError('--features needs a value, e.g. 0:100');
  const features = parseFeatureSpec(spec ?? '0:10');
  const out = path.resolve(ctx.io.cwd, typeof args.flags['out'] === 'string' ? args.flags['out'] : 'feature_dashboards.html');
  const nTokens = intFlag(args, 'tokens', 50_000);
  const batchSize = intFlag(args, 'batch-size', 16);
  const topK = intFlag(args, 'top-k', 20);
  const quantiles = intFlag(args, 'quantiles', 10);
  const seed = intFlag(args, 'seed', 0, 0);
  const ctxFlag = args.flags['context-size'] !== undefined ? intFlag(args, 'context-size', 0) : undefined;
  const revision = typeof args.flags['revision'] === 'string' ? args.flags['revision'] : undefined;
  const m = args.flags['model'];

  // a release name of the pretrained registry (analysis-a): SAELens's from_pretrained
  const registry = existsSync(path.resolve(ctx.io.cwd, source)) ? undefined : pretrainedRegistry({ env: ctx.io.env });
  const release = registry?.releases.get(source);
  if (release && saePath === undefined) throw new UsageError(`dashboards: ${source} is a release: give one of its SAE ids ('sae-rx pretrained ${source}' lists them)`);
  const saeDir = release ? undefined : await resolveSaeFolder(ctx, source, saePath, revision);
  await cliBackend(ctx);
  const hub = hubConfig({ warn: (w) => ctx.warn(w) }, ctx.io.env);
  const sae = release
    ? (await stage(`loading ${source} ${saePath}`, () => fromPretrained(source, saePath!, { registry: registry!, hub, ...(revision ? { revision } : {}), warn: (w) => ctx.warn(w) }))).sae
    : await stage(`loading the SAE in ${saeDir}`, () => loadSae(saeDir!));
  let model: HookedTransformer | undefined;
  try {
    const bad = features.find((f) => f >= sae.cfg.dSae);
    if (bad !== undefined) throw new UsageError(`--features: feature ${bad} is not in [0, d_sae=${sae.cfg.dSae})`);
    let modelRef: string = sae.cfg.modelName;
    if (typeof m === 'string') {
      const local = path.resolve(ctx.io.cwd, m);
      if (existsSync(local)) modelRef = local;
      else if (/^[./]/.test(m) || !m.includes('/')) throw new UsageError(`--model ${m}: no such folder (give a model folder or a hub repo owner/name)`);
      else modelRef = m;
    }
    const modelDir = await stage(`finding the model ${modelRef}`, () =>
      resolveModelFolder(modelRef, hub).catch((e: unknown) => {
        if (m === undefined && e instanceof ConfigError) {
          throw new UsageError(`no --model given, and the SAE's model_name ${JSON.stringify(modelRef)} is not a model folder or hub repo here: give --model DIR|REPO`, { cause: e });
        }
        throw e;
      }),
    );
    model = await stage(`loading the model in ${modelDir}`, () => HookedTransformer.fromFolder(modelDir));
    const mdl = model;
    const tokenizer = await stage('loading the tokenizer', () => loadTokenizer(modelDir));
    const contextSize = Math.min(ctxFlag ?? sae.cfg.contextSize, mdl.cfg.nCtx);
    const nBatches = Math.max(1, Math.ceil(nTokens / (batchSize * contextSize)));
    const total = nBatches * batchSize * contextSize;
    ctx.info(`dashboards of ${features.length} features of ${sae.cfg.hookPoint} (d_sae ${sae.cfg.dSae}) over ${total} tokens (${nBatches} batches of ${batchSize}×${contextSize}) from ${dataset}`);
    const docs$ = datasetDocuments({ dataset_path: localData ? path.resolve(ctx.io.cwd, dataset) : dataset, streaming: true }, hub);
    const batches$ = docs$.pipe(
      packContext({ contextSize, prependBos: sae.cfg.prependBos, tokenizer, storeBatchSize: batchSize, maxDocumentTokens: mdl.cfg.nCtx }),
      take(nBatches),
    );
    const bar = progressBar(ctx, total);
    const t0 = performance.now();
    const data = await stage('building the dashboards', () =>
      featureDashboards(mdl, sae, {
        features,
        topK,
        quantiles,
        seed,
        batches: batches$,
        decode: (ids) => tokenizer.decodeEach(ids),
        saeId: saePath ?? path.basename(saeDir!),
        dataset,
        onProgress: (p) => bar.update(p.tokens),
      }).finally(() => bar.end()),
    );
    const html = renderDashboards(data, { title: `Feature dashboards · ${sae.cfg.modelName} · ${sae.cfg.hookPoint}` });
    await stage(`writing ${out}`, async () => {
      await fsp.mkdir(path.dirname(out), { recursive: true });
      await writeFileAtomic(out, html);
    });
    const secs = (performance.now() - t0) / 1000;
    ctx.emit(
      { type: 'dashboards', path: out, features: features.length, tokens: data.meta.nTokens, seconds: secs },
      `wrote ${out}: dashboards of ${features.length} features over ${data.meta.nTokens} tokens in ${secs.toFixed(1)} s (${(html.length / 1e6).toFixed(1)} MB)`,
    );
  } finally {
    sae.dispose();
    model?.dispose();
  }
  return 0;
}

export const dashboards: Command = {
  name: 'dashboards',
  usage: 'dashboards SOURCE [SAE_PATH] | RELEASE SAE_ID --dataset PATH --features 0:100',
  summary: 'feature dashboards of a saved SAE as one offline HTML file',
  flags: FLAGS,
  help: () => ({
    usage: 'dashboards SOURCE [SAE_PATH] --dataset PATH [--features 0:100] [--out FILE] [--model DIR|REPO] [--tokens N]',
    summary:
      'Feature dashboards as SAELens builds with sae_vis: per feature the activation density histogram, the logit effects\n' +
      '(W_dec·W_U: top positive and negative tokens), top activating examples with their context, examples from\n' +
      'activation intervals and the nearest features by decoder cosine, in one self-contained HTML file with a feature\n' +
      'picker. SOURCE is an SAE folder, a folder of SAE folders (SAE_PATH picks one) or a hub repo (SAE_PATH inside it);\n' +
      'or RELEASE SAE_ID of the pretrained registry (see sae-rx pretrained).\n' +
      'The dataset streams through the model once for all chosen features.',
    flags: FLAGS,
  }),
  run,
};
