/**
 * Checks on what is read from an SAE folder, so that a damaged file is an error naming the
 * file and tensor instead of an SAE that computes NaN (DESIGN.md: never a silently wrong result).
 */
import { FileFormatError } from '../errors.js';

/** Throws when `values` (tensor `name` of `file`) holds NaN or ±Inf; returns them otherwise. */
export function finiteWeights(file: string, name: string, values: Float32Array): Float32Array {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) {
      let count = 0;
      for (let j = i; j < values.length; j++) if (!Number.isFinite(values[j]!)) count++;
      throw new FileFormatError(`${file}: tensor "${name}" holds ${v} at index ${i} (${count} non-finite value${count > 1 ? 's' : ''}); the SAE cannot be loaded`);
    }
  }
  return values;
}

/**
 * The d_sae a folder's cfg.json states (v1.5 flat or v6: both have `d_sae` at the top), or
 * undefined when it cannot be told (no cfg.json, no such key).
 */
export function cfgDSae(cfgJsonText: string | undefined): number | undefined {
  if (cfgJsonText === undefined) return undefined;
  try {
    const v = (JSON.parse(cfgJsonText) as Record<string, unknown>)['d_sae'];
    return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Throws unless `sparsity` of `file` has shape [d_sae] (when d_sae is known). */
export function checkSparsityShape(file: string, shape: readonly number[], dSae: number | undefined): void {
  const ok = shape.length === 1 && (dSae === undefined || shape[0] === dSae);
  if (!ok) throw new FileFormatError(`${file}: tensor "sparsity" has shape [${shape.join(', ')}], expected [${dSae ?? 'd_sae'}]${dSae !== undefined ? ' (d_sae of cfg.json)' : ''}`);
}
