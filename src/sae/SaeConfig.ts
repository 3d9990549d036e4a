/**
 * The SAE's own configuration, camelCase (TypeScript API). The runner config codec
 * (src/config/) maps SAELens's snake_case fields onto it; cfg.json read/write
 * (src/sae/cfgJson.ts) maps it back to SAELens's keys.
 */
import type { NormalizeActivations } from './activationNorm.js';

export type ActivationFn = 'relu' | 'tanh-relu';
export type BDecInitMethod = 'geometric_median' | 'mean' | 'zeros';
export type MseLossNormalization = null | 'dense_batch';

export interface SaeConfig {
  /**
   * The architecture's registry name (src/sae/architectures/registry.ts): 'standard' is SAELens
   * v1.5's SAE, the default; the others follow SAELens 6 and keep their own fields in archFields.
   */
  readonly architecture: string;
  /**
   * The architecture's own fields under SAELens 6's names (k, aux_loss_coefficient, …), as its
   * field table decodes them (defaults filled). Empty or absent for v1.5's standard SAE.
   */
  readonly archFields?: Readonly<Record<string, unknown>>;
  readonly dIn: number;
  readonly dSae: number;
  /**
   * Transcoders (SAELens `TranscoderConfig.d_out`): the width of the output/target. Absent for
   * SAEs, whose output is d_in wide.
   */
  readonly dOut?: number;
  readonly activationFn: ActivationFn;
  readonly applyBDecToInput: boolean;
  /** Keep W_dec rows at unit norm (renormalized every step, gradient projected). */
  readonly normalizeSaeDecoder: boolean;
  readonly decoderOrthogonalInit: boolean;
  readonly decoderHeuristicInit: boolean;
  readonly initEncoderAsDecoderTranspose: boolean;
  readonly bDecInitMethod: BDecInitMethod;
  /** Gaussian noise std added to hidden_pre during training (SAELens `noise_scale`). */
  readonly noiseScale: number;
  readonly mseLossNormalization: MseLossNormalization;
  readonly lpNorm: number;
  readonly scaleSparsityPenaltyByDecoderNorm: boolean;
  readonly useGhostGrads: boolean;
  /** Where the SAE reads: model, hook and (optional) head. Metadata only for the SAE maths. */
  readonly modelName: string;
  readonly hookPoint: string;
  readonly hookPointLayer: number;
  readonly hookPointHeadIndex: number | null;
  /**
   * Transcoders: the hook the output reconstructs (SAELens `hook_name_out`, in `metadata` of a
   * SAELens 6 folder), with its layer and head (`hook_layer_out`, `hook_head_index_out`). Absent
   * for SAEs.
   */
  readonly hookPointOut?: string;
  readonly hookPointOutLayer?: number;
  readonly hookPointOutHeadIndex?: number | null;
  readonly contextSize: number;
  readonly prependBos: boolean;
  readonly dtype: 'float32';
  readonly seed: number;
  /**
   * SAELens's `normalize_activations` as the SAE applies it at inference (src/sae/activationNorm.ts):
   * constant_norm_rescale and layer_norm normalise each input row and undo it on the output;
   * none and expected_average_only_in change nothing at run time. Absent: none.
   */
  readonly normalizeActivations?: NormalizeActivations;
  /**
   * The rest of the runner config this SAE was trained with (SAELens snake_case: dataset_path,
   * l1_coefficient, lr, training_tokens, …), written into cfg.json as SAELens v1.5 does (v1.5
   * layout) or into runner_cfg.json (SAELens 6 layout). Secrets are never put here.
   */
  readonly runnerFields?: Readonly<Record<string, unknown>>;
}

/** SAELens v1.5.0 defaults for the SAE fields (d_in 512, expansion 4). */
export const DEFAULT_SAE_CONFIG: SaeConfig = {
  architecture: 'standard',
  dIn: 512,
  dSae: 2048,
  activationFn: 'relu',
  applyBDecToInput: true,
  normalizeSaeDecoder: true,
  decoderOrthogonalInit: false,
  decoderHeuristicInit: false,
  initEncoderAsDecoderTranspose: false,
  bDecInitMethod: 'geometric_median',
  noiseScale: 0,
  mseLossNormalization: null,
  lpNorm: 1,
  scaleSparsityPenaltyByDecoderNorm: false,
  useGhostGrads: false,
  modelName: 'gelu-2l',
  hookPoint: 'blocks.0.hook_mlp_out',
  hookPointLayer: 0,
  hookPointHeadIndex: null,
  contextSize: 128,
  prependBos: true,
  dtype: 'float32',
  seed: 42,
};
