/**
 * Compares a HookedTransformer against a reference.safetensors of `/work/shared/models/*`:
 * keys `{convention}/{prompt}/{hook}` with the batch dimension dropped.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { SafetensorsFile } from '../../src/io/safetensors.js';
import type { HookedTransformer } from '../../src/model/HookedTransformer.js';

export interface RefDiff {
  /** Largest |ours − reference| per key (hook name, logits, loss_per_token). */
  readonly perKey: Map<string, number>;
  readonly max: number;
  readonly worstKey: string;
  /** Keys of the reference that the model did not produce. */
  readonly missing: string[];
}

/** The token ids of each prompt in a model folder's `reference.json`. */
export function referencePrompts(dir: string): number[][] {
  const ref = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8')) as { prompts: { tokens: number[] }[] };
  return ref.prompts.map((p) => p.tokens);
}

/** max |a − b|, treating equal infinities as equal and a NaN anywhere as Infinity. */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    const d = Math.abs(x - y);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/**
 * Runs each prompt through the model and compares every reference key of `convention`.
 * `logitsTransform` maps our logits before comparing (e.g. the `tl` convention's centering).
 */
export async function compareToReference(
  model: HookedTransformer,
  refFile: string,
  convention: string,
  prompts: number[][],
  opts: { logitsKey?: string } = {},
): Promise<RefDiff> {
  const f = await SafetensorsFile.open(refFile);
  const perKey = new Map<string, number>();
  const missing: string[] = [];
  try {
    for (let i = 0; i < prompts.length; i++) {
      const prefix = `${convention}/${i}/`;
      const keys = f.names().filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length));
      const hookKeys = keys.filter((k) => k !== 'logits' && k !== 'loss_per_token');
      const tokens = tf.tensor2d([prompts[i]!], undefined, 'int32');
      const { logits, cache } = model.runWithCache(tokens, { names: hookKeys, returnType: 'logits' });
      const loss = model.lossPerToken(tokens);
      tokens.dispose();
      const ours = new Map<string, tf.Tensor>(cache);
      ours.set(opts.logitsKey ?? 'logits', logits!);
      ours.set('loss_per_token', loss);
      for (const k of keys) {
        const t = ours.get(k);
        if (!t) {
          missing.push(k);
          continue;
        }
        const ref = await f.readFloat32(prefix + k);
        const d = maxAbsDiff(t.dataSync() as Float32Array, ref);
        perKey.set(k, Math.max(perKey.get(k) ?? 0, d));
      }
      for (const t of ours.values()) t.dispose();
    }
  } finally {
    await f.close();
  }
  let max = 0;
  let worstKey = '';
  for (const [k, v] of perKey) if (v > max || worstKey === '') [max, worstKey] = [v, k];
  return { perKey, max, worstKey, missing };
}
