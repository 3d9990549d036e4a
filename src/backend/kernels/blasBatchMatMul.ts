/**
 * A BatchMatMul kernel for the wasm and cpu backends that calls OpenBLAS sgemm through the
 * addon (blas.ts). Inputs are read in place: on wasm as Float32Array views into the module's
 * heap, on cpu as the backend's own arrays; the output is written in place too. Transposes
 * and broadcast batch dimensions go to sgemm as flags and offsets, never as copies.
 * Non-float32 inputs go to the stock kernel it replaced.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BlasAddon } from '../blas.js';
import { ShapeError } from '../../errors.js';
import { withViews, type BlasBackendKind, type Info } from './inPlace.js';

export type { BlasBackendKind } from './inPlace.js';

/** The backends this kernel knows how to read in place. */
export const BLAS_BACKENDS: readonly BlasBackendKind[] = ['wasm', 'cpu'];

/** Geometry of one (batched, broadcast) matMul, as tfjs's BatchMatMul defines it. */
export interface MatMulGeometry {
  m: number;
  n: number;
  k: number;
  /** Broadcast batch shape of the output (without the last two dims). */
  outerShape: number[];
  outShape: number[];
  batch: number;
}

export function matMulGeometry(aShape: number[], bShape: number[], transposeA: boolean, transposeB: boolean): MatMulGeometry {
  const ra = aShape.length, rb = bShape.length;
  if (ra < 2 || rb < 2) {
    throw new ShapeError(`matMul: a and b must have rank >= 2, got shapes [${aShape}] and [${bShape}]`);
  }
  const m = transposeA ? aShape[ra - 1]! : aShape[ra - 2]!;
  const ka = transposeA ? aShape[ra - 2]! : aShape[ra - 1]!;
  const kb = transposeB ? bShape[rb - 1]! : bShape[rb - 2]!;
  const n = transposeB ? bShape[rb - 2]! : bShape[rb - 1]!;
  if (ka !== kb) {
    throw new ShapeError(
      `matMul: inner dimensions ${ka} and ${kb} differ (a [${aShape}], b [${bShape}], ` +
        `transposeA=${transposeA}, transposeB=${transposeB})`,
    );
  }
  let outerShape: number[];
  try {
    outerShape = tf.broadcast_util.assertAndGetBroadcastShape(aShape.slice(0, -2), bShape.slice(0, -2));
  } catch {
    throw new ShapeError(`matMul: batch dimensions of a [${aShape}] and b [${bShape}] do not broadcast`);
  }
  const batch = outerShape.reduce((p, d) => p * d, 1);
  return { m, n, k: ka, outerShape, outShape: [...outerShape, m, n], batch };
}

/**
 * Element offsets of each output batch entry's matrix in an operand whose batch shape is
 * `shape` (right-aligned against `outer`, size-1 dims broadcast).
 */
export function batchOffsets(outer: number[], shape: number[], matSize: number): Float64Array {
  const batch = outer.reduce((p, d) => p * d, 1);
  const offsets = new Float64Array(batch);
  const lead = outer.length - shape.length;
  // Strides of the operand's own batch dims, 0 where it broadcasts.
  const strides = new Array<number>(outer.length).fill(0);
  let s = matSize;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i + lead] = shape[i] === 1 ? 0 : s;
    s *= shape[i]!;
  }
  for (let flat = 0; flat < batch; flat++) {
    let rem = flat, off = 0;
    for (let d = outer.length - 1; d >= 0; d--) {
      const size = outer[d]!;
      off += (rem % size) * strides[d]!;
      rem = Math.floor(rem / size);
    }
    offsets[flat] = off;
  }
  return offsets;
}

/**
 * Makes the BLAS BatchMatMul kernel function for `kind`. `fallback` (the stock kernel) runs
 * what BLAS cannot: non-float32 inputs.
 */
export function makeBlasBatchMatMul(addon: BlasAddon, kind: BlasBackendKind, fallback: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as { a: Info; b: Info };
    const attrs = args.attrs as { transposeA?: boolean; transposeB?: boolean } | undefined;
    const ta = attrs?.transposeA ?? false, tb = attrs?.transposeB ?? false;
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return fallback(args);
    const g = matMulGeometry(a.shape, b.shape, ta, tb);
    const aOff = batchOffsets(g.outerShape, a.shape.slice(0, -2), g.m * g.k);
    const bOff = batchOffsets(g.outerShape, b.shape.slice(0, -2), g.k * g.n);
    const cOff = batchOffsets(g.outerShape, g.outerShape, g.m * g.n);
    return withViews(kind, args.backend, [a, b], [{ shape: g.outShape, dtype: 'float32' }], ([av, bv], [c]) => {
      if (g.batch * g.m * g.n > 0) addon.gemm(ta, tb, g.m, g.n, g.k, av as Float32Array, bv as Float32Array, c as Float32Array, aOff, bOff, cOff);
    });
  };
}
