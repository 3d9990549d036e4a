/**
 * Pieces the SAELens 6 architectures of this folder share (sae_lens/saes/sae.py):
 * - `saelens6DecoderInit`: `SAE.initialize_weights` + `TrainingSAE.initialize_weights`: W_dec
 *   kaiming-uniform, rows rescaled to `decoder_init_norm` (0.1 by default; null keeps kaiming
 *   rows), W_enc = W_decᵀ.
 * - `archField`: an architecture field of cfg.archFields, or its field-table default when absent
 *   (a config built in code may give only some fields).
 * - `deadMask`: the trainer's dead-latent indices as a 0/1 float mask [d_sae].
 */
import * as tf from '@tensorflow/tfjs-core';
import { defaultOf, type FieldTable } from '../../config/fields.js';
import { ConfigError } from '../../errors.js';
import { kaimingUniform, unitRows } from '../init.js';
import type { SaeConfig } from '../SaeConfig.js';

export function saelens6DecoderInit(cfg: SaeConfig, seed: number, decoderInitNorm: number | null): { W_enc: tf.Tensor2D; W_dec: tf.Tensor2D } {
  return tf.tidy(() => {
    const k = kaimingUniform([cfg.dSae, cfg.dIn], seed);
    const W_dec = decoderInitNorm === null ? k : (tf.mul(unitRows(k), decoderInitNorm) as tf.Tensor2D);
    return { W_enc: tf.transpose(W_dec), W_dec };
  });
}

export function archField<T>(cfg: SaeConfig, fields: FieldTable, name: string): T {
  const v = cfg.archFields?.[name];
  if (v !== undefined) return v as T;
  const spec = fields[name];
  if (!spec) throw new ConfigError(`architecture '${cfg.architecture}': no field ${name}`);
  return defaultOf(spec) as T;
}

export function deadMask(dSae: number, deadIdx: Int32Array): tf.Tensor1D {
  const m = new Float32Array(dSae);
  for (const i of deadIdx) m[i] = 1;
  return tf.tensor1d(m);
}
