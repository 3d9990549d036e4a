/** Test helpers: the SAELens 6 reference fixtures (scripts/reference/saelens6_reference.py) as sae-rx configs. */
import { architectureOf } from '../../src/sae/architectures/registry.js';
import { DEFAULT_SAE_CONFIG, type SaeConfig } from '../../src/sae/SaeConfig.js';

/** The reference's snake_case SAE cfg → SaeConfig (architecture fields into archFields). */
export function saelens6Cfg(arch: string, c: Record<string, any>, dIn: number, dSae: number): SaeConfig {
  const a = architectureOf(arch);
  const archFields: Record<string, unknown> = {};
  for (const k of Object.keys(a.fields)) if (k in c) archFields[k] = c[k];
  return {
    ...DEFAULT_SAE_CONFIG,
    architecture: arch,
    dIn,
    dSae,
    applyBDecToInput: c['apply_b_dec_to_input'],
    mseLossNormalization: c['mse_loss_normalization'] ?? null,
    normalizeSaeDecoder: false,
    bDecInitMethod: 'zeros',
    archFields,
  };
}
