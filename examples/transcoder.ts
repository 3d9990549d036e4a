/**
 * A transcoder for layer 1's MLP of a real (tiny) language model, offline: it reads the MLP's
 * input `blocks.1.ln2.hook_normalized` and learns to output the MLP's output
 * `blocks.1.hook_mlp_out` of `../shared/models/tiny-gpt2-sotu` (a 4-layer GPT-2, d_model 128)
 * over State of the Union addresses, through `languageModelRunner` from a runner config in
 * SAELens 6's names (`architecture: topk_transcoder`, `hook_name_out`, `d_out`):
 *
 *   documents → packContext → modelActivations(input + target hook, one forward pass)
 *     → mixingBuffer → batch → trainSae(transcoder) → sinks(console, records.jsonl, report)
 *
 * Then the saved transcoder folder is evaluated on held-out text with its output spliced into
 * `hook_mlp_out`: FVU (fraction of the MLP output's variance it does not explain) and CE loss
 * recovered (clean vs hook_mlp_out zero-ablated vs transcoder spliced in).
 * `npm run example -- transcoder` (about two minutes on 2 quiet cores); `-- transcoder --quick`
 * for a short smoke run. Skips with a message when `../shared` (the model) is absent.
 */
import type { RunSummary } from '../src/index.js';
import { MODEL_DIR, SOTU_STREAM, type SotuRunOptions, runOnSotu } from './lm.js';

export const description = 'transcoder for layer 1 MLP of a tiny GPT-2 (ln2.hook_normalized → hook_mlp_out), FVU and CE loss recovered (offline)';

/** The runner config, in SAELens's names. */
export function transcoderConfig(quick: boolean): Record<string, unknown> {
  return {
    model_name: MODEL_DIR,
    architecture: 'topk_transcoder',
    k: 16,
    hook_point: 'blocks.1.ln2.hook_normalized',
    hook_name_out: 'blocks.1.hook_mlp_out',
    d_in: 128,
    d_out: 128,
    d_sae: 1024,
    ...SOTU_STREAM,
    training_tokens: quick ? 40 * 1024 : 400 * 1024,
    lr: 2e-3,
    lr_warm_up_steps: 10,
    lr_scheduler_name: 'constant',
    feature_sampling_window: 200,
    dead_feature_window: 100,
    log_to_wandb: false,
    seed: 42,
  };
}

export interface TranscoderExampleResult {
  readonly summary: RunSummary;
  /** Evals of the saved folder on held-out text (SAELens metric names; fvu, ce_loss_score, …). */
  readonly evals: Record<string, number>;
}

export async function runTranscoder(opts: SotuRunOptions = {}): Promise<TranscoderExampleResult | undefined> {
  const verbose = opts.verbose ?? true;
  // the saved folder, loaded back and evaluated with its output spliced into hook_mlp_out
  const s = await runOnSotu('transcoder', transcoderConfig(opts.quick ?? false), opts);
  if (!s) return undefined;
  const tc = s.saes[0];
  if (!tc?.evals) throw new Error(`transcoder example: no final evals (${s.warnings.join('; ')})`);
  const e = tc.evals;
  if (verbose) {
    const l = tc.last;
    process.stdout.write(
      [
        `transcoder folder: ${tc.path ?? '(not written)'}`,
        `report: ${s.reportPath}`,
        `${tc.steps} steps, ${tc.tokens} tokens in ${s.seconds.toFixed(1)} s: ${Math.round(s.tokensPerSecond)} tokens/s`,
        `last step: MSE ${l?.losses.mse.toFixed(3)}, L0 ${l?.l0.toFixed(1)}, explained variance of hook_mlp_out ${l?.explainedVarianceMean.toFixed(4)}, dead latents ${l?.deadFeatures}`,
        `held-out evals, output spliced into blocks.1.hook_mlp_out: FVU ${e.fvu?.toFixed(4)}; CE loss clean ${e.ce_loss_without_sae?.toFixed(3)}, ` +
          `with the transcoder ${e.ce_loss_with_sae?.toFixed(3)}, hook_mlp_out zero-ablated ${e.ce_loss_with_ablation?.toFixed(3)}: ` +
          `CE loss recovered ${e.ce_loss_score?.toFixed(3)}; KL ${e.kl_div?.toFixed(4)}, L0 ${e.l0?.toFixed(1)}, dead latents ${(e.dead_feature_fraction! * 100).toFixed(1)} %`,
        ...(s.warnings.length ? [`warnings: ${s.warnings.join('; ')}`] : []),
        '',
      ].join('\n'),
    );
  }
  return { summary: s, evals: e };
}

export async function main(args: string[]): Promise<void> {
  await runTranscoder({ quick: args.includes('--quick') });
}
