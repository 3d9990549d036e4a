/**
 * `sae-rx dashboards SAE_DIR|RELEASE SAE_ID [--dataset PATH] --features 0:100 [--out FILE]`:
 * feature dashboards (SAELens's dashboard runner / sae_vis) of a saved SAE as one self-contained
 * HTML file. The SAE is an SAE folder (or a folder of them and the SAE's path inside), or a
 * release of the pretrained registry (or a hub repo) and an SAE id; `loadSession` loads it with
 * its model, tokenizer and dataset. The dataset streams through the model once for all features.
 */
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { take } from 'rxjs';
import { hubConfig } from '../../hub/config.js';
import type { SessionSaeSpec } from '../../runners/sessionLoader.js';
import { type FlagSpec, type ParsedArgs, looksLikeRepo } from '../args.js';
import type { CliContext } from '../context.js';
import { UsageError, stage } from '../errors.js';
import type { Command } from './command.js';

const FLAGS: readonly FlagSpec[] = [
  { name: 'dataset', type: 'string', valueName: 'PATH', description: "a local .txt/.jsonl/.parquet file or a hub dataset (owner/name); default: the SAE's dataset_path" },
  { name: 'features', type: 'string', valueName: 'SPEC', description: 'features to show: ranges and indices, e.g. 0:100 or 3,17,40:48 (end exclusive; default 0:10)' },
  { name: 'out', type: 'string', valueName: 'FILE', description: 'the HTML file to write (default feature_dashboards.html)' },
  { name: 'model', type: 'string', valueName: 'DIR|REPO', description: "the model the SAE reads (default: the SAE's model_name)" },
  { name: 'tokens', type: 'string', valueName: 'N', description: 'tokens to stream through the model (default 50000; whole sequences)' },
  { name: 'batch-size', type: 'string', valueName: 'N', description: 'sequences per model pass (default 16)' },
  { name: 'context-size', type: 'string', valueName: 'N', description: "tokens per sequence (default: the SAE's context_size, at most the model's)" },
  { name: 'top-k', type: 'string', valueName: 'N', description: 'top activating examples per feature (default 20)' },
  { name: 'quantiles', type: 'string', valueName: 'N', description: 'activation intervals to sample examples from (default 10)' },
  { name: 'seed', type: 'string', valueName: 'N', description: 'seed of the interval sampling (default 0)' },
  { name: 'registry', type: 'string', valueName: 'FILE', description: "a pretrained_saes.yaml of your own, added to the shipped list (also: SAE_RX_PRETRAINED_YAML, ':'-separated)" },
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
  // loaded when the command runs, not when the CLI starts (cli/commands/index.ts says why)
  const { featureDashboards } = await import('../../analysis/dashboard/featureDashboards.js');
  const { renderDashboards } = await import('../../sinks/dashboard/renderDashboards.js');
  const { writeFileAtomic } = await import('../../io/atomicWrite.js');
  const { packContext } = await import('../../operators/packContext.js');
  const { datasetDocuments } = await import('../../runners/languageModelRunner.js');
  const { loadSession } = await import('../../runners/sessionLoader.js');
  const { pretrainedRegistry } = await import('../../sae/pretrained/registry.js');
  const { SAE_CFG_PATH } = await import('../../sae/saeFolder.js');
  const { cliBackend } = await import('../backend.js');
  const [source, saeId, ...extra] = args.positionals;
  if (source === undefined || extra.length > 0) {
    throw new UsageError('dashboards takes SAE_DIR (an SAE folder, or a folder of SAEs and the path of one in it) or RELEASE SAE_ID (a pretrained release or hub repo, and an SAE id)');
  }
  const dataset = args.flags['dataset'];
  if (dataset !== undefined && typeof dataset !== 'string') throw new UsageError('--dataset needs a value (text, jsonl or parquet file, or a hub dataset owner/name)');
  const localData = typeof dataset === 'string' && existsSync(path.resolve(ctx.io.cwd, dataset));
  if (typeof dataset === 'string' && !localData && !looksLikeRepo(dataset)) throw new UsageError(`--dataset ${dataset}: neither a local file/folder nor a hub dataset id (owner/name)`);
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
  const m = args.flags['model'];
  let model: string | undefined;
  if (typeof m === 'string') {
    const local = path.resolve(ctx.io.cwd, m);
    if (existsSync(local)) model = local;
    else if (/^[./]/.test(m) || !m.includes('/')) throw new UsageError(`--model ${m}: no such folder (give a model folder or a hub repo owner/name)`);
    else model = m;
  }

  const registryFile = typeof args.flags['registry'] === 'string' ? path.resolve(ctx.io.cwd, args.flags['registry']) : undefined;
  // the SAE: a local folder (SAE_ID: its path inside SOURCE), else a release or hub repo and its SAE id
  const local = path.resolve(ctx.io.cwd, source);
  let saeSpec: SessionSaeSpec;
  if (existsSync(local)) {
    const dir = saeId !== undefined ? path.join(local, saeId) : local;
    if (!existsSync(path.join(dir, SAE_CFG_PATH))) {
      throw new UsageError(`${path.join(source, saeId ?? '')}: not an SAE folder (no ${SAE_CFG_PATH}); list the SAEs in a folder with 'sae-rx pretrained ${source}'`);
    }
    saeSpec = { folder: dir };
  } else {
    if (saeId === undefined) {
      const isRelease = pretrainedRegistry({ ...(registryFile ? { files: [registryFile] } : {}), env: ctx.io.env }).releases.has(source);
      throw new UsageError(
        isRelease
          ? `dashboards: ${source} is a release: give one of its SAE ids ('sae-rx pretrained ${source}' lists them)`
          : `dashboards: ${source} is not a folder; for a pretrained release or hub repo give its SAE id too (list them with 'sae-rx pretrained ${source}')`,
      );
    }
    saeSpec = { release: source, saeId };
  }
  await cliBackend(ctx);
  const hub = hubConfig({ warn: (w) => ctx.warn(w) }, ctx.io.env);
  const session = await stage(`loading ${'folder' in saeSpec ? `the SAE in ${saeSpec.folder}` : `${source} ${saeId}`} with its model`, () =>
    loadSession(saeSpec, {
      hub,
      ...(model !== undefined ? { model } : {}),
      ...(typeof dataset === 'string' ? { datasetPath: localData ? path.resolve(ctx.io.cwd, dataset) : dataset } : {}),
      storeBatchSize: batchSize,
      warn: (w) => ctx.warn(w),
      ...('release' in saeSpec ? { registry: pretrainedRegistry({ ...(registryFile ? { files: [registryFile] } : {}), env: ctx.io.env }) } : {}),
    }),
  );
  try {
    const { sae } = session.saes[0]!;
    const mdl = session.model;
    const bad = features.find((f) => f >= sae.cfg.dSae);
    if (bad !== undefined) throw new UsageError(`--features: feature ${bad} is not in [0, d_sae=${sae.cfg.dSae})`);
    if (session.settings.datasetPath === null) throw new UsageError("the SAE's config names no dataset (dataset_path): give --dataset PATH");
    const contextSize = Math.min(ctxFlag ?? session.settings.contextSize, mdl.cfg.nCtx);
    const nBatches = Math.max(1, Math.ceil(nTokens / (batchSize * contextSize)));
    const total = nBatches * batchSize * contextSize;
    const datasetName = session.settings.datasetPath;
    ctx.info(`dashboards of ${features.length} features of ${sae.cfg.hookPoint} (d_sae ${sae.cfg.dSae}) over ${total} tokens (${nBatches} batches of ${batchSize}×${contextSize}) from ${datasetName}`);
    // the session's token source packs as the SAE was trained; --context-size repacks the same documents
    const tokens$ =
      ctxFlag === undefined
        ? session.tokens()
        : datasetDocuments({ dataset_path: datasetName, streaming: true }, hub).pipe(
            packContext({ contextSize, prependBos: session.settings.prependBos, tokenizer: session.tokenizer, storeBatchSize: batchSize, maxDocumentTokens: mdl.cfg.nCtx }),
          );
    const bar = progressBar(ctx, total);
    const t0 = performance.now();
    const data = await stage('building the dashboards', () =>
      featureDashboards(mdl, sae, {
        features,
        topK,
        quantiles,
        seed,
        batches: tokens$.pipe(take(nBatches)),
        decode: (ids) => session.tokenizer.decodeEach(ids),
        saeId: 'folder' in saeSpec ? path.basename(saeSpec.folder) : `${source}/${saeId}`,
        dataset: datasetName,
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
    session.dispose();
  }
  return 0;
}

export const dashboards: Command = {
  name: 'dashboards',
  usage: 'dashboards SAE_DIR|RELEASE SAE_ID --dataset PATH --features 0:100',
  summary: 'feature dashboards of a saved SAE as one offline HTML file',
  flags: FLAGS,
  help: () => ({
    usage: 'dashboards SAE_DIR|RELEASE SAE_ID [--dataset PATH] [--features 0:100] [--out FILE] [--model DIR|REPO] [--tokens N]',
    summary:
      'Feature dashboards as SAELens builds with sae_vis: per feature the activation density histogram, the logit effects\n' +
      '(W_dec·W_U: top positive and negative tokens), top activating examples with their context, examples from\n' +
      'activation intervals and the nearest features by decoder cosine, in one self-contained HTML file with a feature\n' +
      'picker. The SAE is an SAE folder (or a folder of SAEs and the path of one inside it), or a release of the pretrained\n' +
      "registry (or a hub repo) and an SAE id; its model and dataset are the ones its config names unless --model/--dataset.\n" +
      'The dataset streams through the model once for all chosen features.',
    flags: FLAGS,
  }),
  run,
};
