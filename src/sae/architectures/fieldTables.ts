/**
 * The config field tables of the SAE architectures (SAELens 6's names and defaults), apart from
 * their tensor code: loading this module registers every architecture's fields with the
 * runner-config decoders (config/architectureFields.ts) without loading tfjs. A process that
 * only decodes configs (the distributed sweep's coordinator, `sae-rx train --help`) stays light;
 * the registry (registry.ts) checks at load that each architecture declares exactly the table
 * registered here under its name.
 *
 * Adding an architecture: its table goes here (and into ARCHITECTURE_FIELDS), its code into its
 * own file, which takes `fields` from here.
 */
import * as t from 'io-ts';
import { Bool, NonNegativeInt, NonNegativeNum, PositiveInt, PositiveNum, Probability, nullable, oneOf } from '../../config/codecs.js';
import { registerArchitectureFields } from '../../config/architectureFields.js';
import type { FieldTable } from '../../config/fields.js';

/** TrainingSAEConfig's own field every SAELens 6 architecture has. */
export const SAELENS6_BASE_FIELDS: FieldTable = {
  decoder_init_norm: { codec: nullable(PositiveNum), default: 0.1 },
};

/** SAELens 6's StandardTrainingSAEConfig (ReLU + L1). */
export const STANDARD_V6_FIELDS: FieldTable = {
  ...SAELENS6_BASE_FIELDS,
  l1_coefficient: { codec: NonNegativeNum, default: 1.0 },
  lp_norm: { codec: PositiveNum, default: 1.0 },
  l1_warm_up_steps: { codec: NonNegativeInt, default: 0 },
};

/** Fields TopK, BatchTopK and Matryoshka BatchTopK share (TopKTrainingSAEConfig). */
export const TOPK_FAMILY_FIELDS: FieldTable = {
  ...SAELENS6_BASE_FIELDS,
  aux_loss_coefficient: { codec: NonNegativeNum, default: 1.0 },
  rescale_acts_by_decoder_norm: { codec: Bool, default: true },
  /** SAELens's COO-tensor switch; here the sparse products are chosen per step (sparseStep), so it changes nothing. */
  use_sparse_activations: { codec: Bool, default: false },
};

export const TOPK_FIELDS: FieldTable = { ...TOPK_FAMILY_FIELDS, k: { codec: PositiveInt, default: 100 } };

/** BatchTopKTrainingSAEConfig's fields. */
export const BATCHTOPK_FIELDS: FieldTable = {
  ...TOPK_FAMILY_FIELDS,
  k: { codec: PositiveNum, default: 100 },
  topk_threshold_lr: { codec: Probability, default: 0.01 },
};

const WidthList = new t.Type<number[], unknown, unknown>(
  'a non-empty list of positive integers',
  (u): u is number[] => Array.isArray(u) && u.length > 0 && u.every((w) => PositiveInt.is(w)),
  (u, c) => (Array.isArray(u) && u.length > 0 && u.every((w) => PositiveInt.is(w)) ? t.success(u as number[]) : t.failure(u, c)),
  (a) => a,
);

export const MATRYOSHKA_BATCHTOPK_FIELDS: FieldTable = {
  ...BATCHTOPK_FIELDS,
  matryoshka_widths: { codec: WidthList, default: () => [] },
  use_matryoshka_aux_loss: { codec: Bool, default: false },
};

export const JUMPRELU_SPARSITY_LOSS_MODES = ['step', 'tanh'] as const;

export const JUMPRELU_FIELDS: FieldTable = {
  ...SAELENS6_BASE_FIELDS,
  jumprelu_init_threshold: { codec: NonNegativeNum, default: 0.01 },
  jumprelu_bandwidth: { codec: PositiveNum, default: 0.05 },
  jumprelu_sparsity_loss_mode: { codec: oneOf(JUMPRELU_SPARSITY_LOSS_MODES), default: 'step' },
  l0_coefficient: { codec: NonNegativeNum, default: 1.0 },
  l0_warm_up_steps: { codec: NonNegativeInt, default: 0 },
  pre_act_loss_coefficient: { codec: nullable(NonNegativeNum), default: null },
  jumprelu_tanh_scale: { codec: PositiveNum, default: 4.0 },
};

export const GATED_FIELDS: FieldTable = {
  ...SAELENS6_BASE_FIELDS,
  l1_coefficient: { codec: NonNegativeNum, default: 1.0 },
  l1_warm_up_steps: { codec: NonNegativeInt, default: 0 },
};

/** The v1.5 standard SAE's own fields are the runner's (config/architectureFields.ts). */
export const STANDARD_FIELDS: FieldTable = {};

/** Each architecture's field table by registry name; a transcoder has its base's fields. */
export const ARCHITECTURE_FIELDS: ReadonlyArray<{ readonly name: string; readonly fields: FieldTable; readonly transcoder?: true }> = [
  { name: 'standard', fields: STANDARD_FIELDS },
  { name: 'standard_v6', fields: STANDARD_V6_FIELDS },
  { name: 'topk', fields: TOPK_FIELDS },
  { name: 'batchtopk', fields: BATCHTOPK_FIELDS },
  { name: 'matryoshka_batchtopk', fields: MATRYOSHKA_BATCHTOPK_FIELDS },
  { name: 'jumprelu', fields: JUMPRELU_FIELDS },
  { name: 'gated', fields: GATED_FIELDS },
  { name: 'transcoder', fields: STANDARD_V6_FIELDS, transcoder: true },
  { name: 'skip_transcoder', fields: STANDARD_V6_FIELDS, transcoder: true },
  { name: 'jumprelu_transcoder', fields: JUMPRELU_FIELDS, transcoder: true },
  { name: 'jumprelu_skip_transcoder', fields: JUMPRELU_FIELDS, transcoder: true },
  { name: 'topk_transcoder', fields: TOPK_FIELDS, transcoder: true },
  { name: 'topk_skip_transcoder', fields: TOPK_FIELDS, transcoder: true },
  { name: 'batchtopk_transcoder', fields: BATCHTOPK_FIELDS, transcoder: true },
  { name: 'batchtopk_skip_transcoder', fields: BATCHTOPK_FIELDS, transcoder: true },
];

for (const a of ARCHITECTURE_FIELDS) registerArchitectureFields(a.name, a.fields, { transcoder: a.transcoder === true });
