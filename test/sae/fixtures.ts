/** Test helpers: read the PyTorch reference fixtures (scripts/reference/sae_reference.py). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_SAE_CONFIG, type SaeConfig } from '../../src/sae/SaeConfig.js';

export const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'sae');

export function readFixture<T = any>(name: string): T {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8')) as T;
}

/** The reference script's snake_case cfg → SaeConfig. */
export function saeCfgFrom(c: Record<string, any>, dIn: number, dSae: number): SaeConfig {
  return {
    ...DEFAULT_SAE_CONFIG,
    dIn,
    dSae,
    activationFn: c['activation_fn'],
    applyBDecToInput: c['apply_b_dec_to_input'],
    mseLossNormalization: c['mse_loss_normalization'] ?? null,
    lpNorm: c['lp_norm'],
    scaleSparsityPenaltyByDecoderNorm: c['scale_sparsity_penalty_by_decoder_norm'],
    useGhostGrads: c['use_ghost_grads'],
    normalizeSaeDecoder: c['normalize_sae_decoder'],
    bDecInitMethod: 'zeros',
  };
}

export interface Mismatch {
  index: number;
  got: number;
  want: number;
}

/**
 * Elementwise |got − want| ≤ rtol·|want| + atol·max|want|. Returns the worst offenders (empty
 * when all close) and the largest error relative to max|want|.
 */
export function compare(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol = rtol) {
  if (got.length !== want.length) throw new Error(`length ${got.length} vs ${want.length}`);
  let maxAbs = 0;
  for (let i = 0; i < want.length; i++) maxAbs = Math.max(maxAbs, Math.abs(want[i]!));
  const bad: Mismatch[] = [];
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i]! - want[i]!);
    worst = Math.max(worst, maxAbs > 0 ? err / maxAbs : err);
    if (!(err <= rtol * Math.abs(want[i]!) + atol * maxAbs)) bad.push({ index: i, got: got[i]!, want: want[i]! });
  }
  return { ok: bad.length === 0, bad: bad.slice(0, 5), nBad: bad.length, worst };
}
