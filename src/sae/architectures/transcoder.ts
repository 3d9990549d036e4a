/**
 * Transcoders (SAELens 6 sae_lens/saes/transcoder.py): an SAE of any of the SAELens 6
 * architectures whose output is another hook's activations, of width d_out, with an optional
 * linear skip connection.
 *
 *   h = x W_enc + b_enc                (no b_dec on the input: b_dec is d_out wide)
 *   f = the base architecture's activation of h (ReLU, JumpReLU, TopK, BatchTopK)
 *   ŷ = f W_dec + b_dec  (+ x W_skipᵀ for the skip variants)
 *   W_enc [d_in, d_sae], W_dec [d_sae, d_out], b_dec [d_out], W_skip [d_out, d_in] (zeros at init)
 *
 * Training (SAELens has no training transcoder): the base architecture's loss terms with the
 * target y (TrainingStepInput.target) where the SAE has x: mse_loss = mean_b Σ_d (ŷ − y)², the
 * same sparsity term (standard_v6's L1, JumpReLU's L0 and pre-activation loss), TopK's AuxK on
 * the residual sg(y − ŷ). So each transcoder here is its base architecture, parametrised by d_out
 * (saelens6Base.outDim), plus the skip term:
 *
 *   ‖f W_dec + b_dec + x W_skipᵀ − y‖² = ‖f W_dec + b_dec − (y − x W_skipᵀ)‖²
 *
 * so a skip transcoder runs its base's training forward against the target y − x W_skipᵀ (which
 * carries W_skip's gradient; AuxK's residual is stop-gradient either way, as with the skip term
 * added to ŷ) and adds x W_skipᵀ back to the output it reports. dense_batch MSE normalisation
 * would centre that shifted target, so the skip variants refuse it.
 *
 * Names: SAELens 6's `transcoder` (standard_v6's ReLU + L1), `skip_transcoder`,
 * `jumprelu_transcoder`, `jumprelu_skip_transcoder`. SAELens has no TopK/BatchTopK transcoder;
 * ours follow its pattern: `topk_transcoder`, `topk_skip_transcoder`, `batchtopk_transcoder`,
 * `batchtopk_skip_transcoder`. A BatchTopK transcoder is saved as a JumpReLU transcoder (as a
 * BatchTopK SAE is saved as JumpReLU), which SAELens 6 loads; a TopK transcoder is saved as
 * `topk_transcoder` (k, rescale_acts_by_decoder_norm), which only sae-rx loads.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../../errors.js';
import type { SaeConfig } from '../SaeConfig.js';
import type { Architecture, ParamTensors } from './Architecture.js';
import { batchtopk } from './batchtopk.js';
import { jumprelu } from './jumprelu.js';
import { reconstructionTarget } from './saelens6Base.js';
import { standardV6 } from './standardV6.js';
import { topk } from './topk.js';

/** x W_skipᵀ [n, d_out] (W_skip [d_out, d_in]). */
function skipOut(p: ParamTensors, x: tf.Tensor2D): tf.Tensor2D {
  const w = p['W_skip'];
  if (!w) throw new ConfigError(`skip transcoder: parameter W_skip is missing (have ${Object.keys(p).join(', ')})`);
  return tf.matMul(x, w as tf.Tensor2D, false, true);
}

/** Checks what every transcoder needs of its config (SAELens TranscoderConfig.__post_init__ and d_out). */
function validateTranscoder(cfg: SaeConfig, skip: boolean): void {
  const d = cfg.dOut;
  if (d === undefined || !Number.isInteger(d) || d < 1) throw new ConfigError(`d_out: a ${cfg.architecture} needs the output width d_out (a positive integer), got ${String(d)}`);
  if (cfg.applyBDecToInput) throw new ConfigError(`apply_b_dec_to_input: not supported for transcoders (b_dec is d_out wide; SAELens refuses it too); set it to false`);
  if (skip && cfg.mseLossNormalization === 'dense_batch') {
    throw new ConfigError(`mse_loss_normalization: 'dense_batch' is not supported for ${cfg.architecture} (the skip term is trained through a shifted target that dense_batch would centre)`);
  }
}

interface TranscoderSpec {
  readonly name: string;
  readonly base: Architecture;
  readonly skip: boolean;
  /** The base's inference architecture (what its toInference names) → the transcoder's. */
  readonly saveAs: Readonly<Record<string, string>>;
  readonly summary: string;
}

/** The transcoder of a base SAE architecture (see the file comment). */
export function transcoderOf(t: TranscoderSpec): Architecture {
  const { base, skip } = t;
  const arch: Architecture = {
    name: t.name,
    summary: t.summary,
    transcoder: true,
    fields: base.fields,
    sparseStepValid: base.sparseStepValid,
    rowSeparable: (cfg) => base.rowSeparable(cfg),
    ...(base.materializesActivations ? { materializesActivations: (cfg, mode) => base.materializesActivations!(cfg, mode) } : {}),

    validate(cfg) {
      validateTranscoder(cfg, skip);
      base.validate(cfg);
    },

    params: (cfg) => [...base.params(cfg), ...(skip ? [{ name: 'W_skip', shape: [cfg.dOut!, cfg.dIn] }] : [])],

    init(cfg, seed) {
      const w = base.init(cfg, seed);
      return skip ? { ...w, W_skip: tf.zeros([cfg.dOut!, cfg.dIn]) } : w;
    },

    initialState: () => base.initialState(),

    forward(cfg, p, x, state) {
      const r = base.forward(cfg, p, x, state);
      if (!skip) return r;
      const out = tf.tidy(() => tf.add(r.out, skipOut(p, x)) as tf.Tensor2D);
      r.out.dispose();
      return { ...r, out };
    },

    // SAELens's decode has no skip term either: it needs the input
    decode: (cfg, p, f) => base.decode(cfg, p, f),

    trainingForward(cfg, p, s) {
      if (!skip) return base.trainingForward(cfg, p, s);
      const skipped = skipOut(p, s.x);
      const out = base.trainingForward(cfg, p, { ...s, target: tf.sub(reconstructionTarget(s), skipped) as tf.Tensor2D });
      return { ...out, saeOut: tf.add(out.saeOut, skipped) as tf.Tensor2D };
    },

    coefficients: (cfg, trainer) => base.coefficients(cfg, trainer),
    ...(base.trainableParams ? { trainableParams: (cfg, phase, trainer) => [...base.trainableParams!(cfg, phase, trainer), ...(skip ? ['W_skip'] : [])] } : {}),
    ...(base.beforeStep ? { beforeStep: (cfg, vars) => base.beforeStep!(cfg, vars) } : {}),
    ...(base.adjustGrads ? { adjustGrads: (cfg, vars, grads) => base.adjustGrads!(cfg, vars, grads) } : {}),
    ...(base.afterStep ? { afterStep: (cfg, state, stats) => base.afterStep!(cfg, state, stats) } : {}),

    toInference(cfg, w, state) {
      const inf = base.toInference(cfg, w, state);
      const name = t.saveAs[inf.architecture];
      if (!name) throw new ConfigError(`${t.name}: its base saves as '${inf.architecture}', which has no transcoder layout`);
      return {
        architecture: name,
        cfg: { ...inf.cfg, d_out: cfg.dOut! },
        weights: skip ? { ...inf.weights, W_skip: { shape: [cfg.dOut!, cfg.dIn], data: w['W_skip']! } } : inf.weights,
      };
    },
  };
  return arch;
}

export const transcoder = transcoderOf({
  name: 'transcoder', base: standardV6, skip: false, saveAs: { standard: 'transcoder' },
  summary: 'SAELens 6 transcoder: ReLU + L1 (as standard_v6) from d_in to the target hook\'s d_out',
});
export const skipTranscoder = transcoderOf({
  name: 'skip_transcoder', base: standardV6, skip: true, saveAs: { standard: 'skip_transcoder' },
  summary: 'SAELens 6 skip transcoder: the transcoder plus a linear skip x W_skipᵀ (W_skip zero-initialised)',
});
export const jumpreluTranscoder = transcoderOf({
  name: 'jumprelu_transcoder', base: jumprelu, skip: false, saveAs: { jumprelu: 'jumprelu_transcoder' },
  summary: 'SAELens 6 JumpReLU transcoder: trained thresholds, L0 (step or tanh) loss, d_in → d_out',
});
export const jumpreluSkipTranscoder = transcoderOf({
  name: 'jumprelu_skip_transcoder', base: jumprelu, skip: true, saveAs: { jumprelu: 'jumprelu_skip_transcoder' },
  summary: 'SAELens 6 JumpReLU skip transcoder (Gemma Scope 2 layout): JumpReLU transcoder plus W_skip',
});
export const topkTranscoder = transcoderOf({
  name: 'topk_transcoder', base: topk, skip: false, saveAs: { topk: 'topk_transcoder' },
  summary: 'TopK transcoder (sae-rx; SAELens has none): k largest per token, AuxK on the target residual; saved as topk_transcoder',
});
export const topkSkipTranscoder = transcoderOf({
  name: 'topk_skip_transcoder', base: topk, skip: true, saveAs: { topk: 'topk_skip_transcoder' },
  summary: 'TopK skip transcoder (sae-rx): topk_transcoder plus W_skip; saved as topk_skip_transcoder',
});
export const batchtopkTranscoder = transcoderOf({
  name: 'batchtopk_transcoder', base: batchtopk, skip: false, saveAs: { jumprelu: 'jumprelu_transcoder' },
  summary: 'BatchTopK transcoder (sae-rx): k·batch largest of the batch, AuxK, threshold EMA; saved as jumprelu_transcoder',
});
export const batchtopkSkipTranscoder = transcoderOf({
  name: 'batchtopk_skip_transcoder', base: batchtopk, skip: true, saveAs: { jumprelu: 'jumprelu_skip_transcoder' },
  summary: 'BatchTopK skip transcoder (sae-rx): batchtopk_transcoder plus W_skip; saved as jumprelu_skip_transcoder',
});

/** Every transcoder architecture, in registry order. */
export const TRANSCODERS: readonly Architecture[] = [
  transcoder, skipTranscoder, jumpreluTranscoder, jumpreluSkipTranscoder, topkTranscoder, topkSkipTranscoder, batchtopkTranscoder, batchtopkSkipTranscoder,
];
