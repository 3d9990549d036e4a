/**
 * A Slice kernel for the wasm backend that reads its input through a view of the wasm heap.
 *
 * Why: tfjs-wasm 4.22's Slice starts with `backend.readSync(x)`, which copies the WHOLE input
 * out of the heap before taking the slice: one element of a [8, 128, 50257] logits tensor cost
 * 113 ms here, and every row chunk the SAE trainer slices from its batch copied the batch.
 * This kernel copies only the slice (contiguous runs along the last axis), so the results are
 * identical. Strings go to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Info, WasmBackendLike } from './inPlace.js';

type AnyView = Float32Array | Int32Array | Uint8Array;

/** out = x[begin : begin + size] for row-major x of `shape` (all arrays of the same rank). */
export function sliceInto(x: AnyView, shape: readonly number[], begin: readonly number[], size: readonly number[], out: AnyView): void {
  const rank = shape.length;
  if (rank === 0) {
    out[0] = x[0]!;
    return;
  }
  const strides = new Array<number>(rank);
  let s = 1;
  for (let d = rank - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d]!;
  }
  // Trailing axes taken whole merge into one contiguous run with the last partial axis.
  let runAxis = rank - 1;
  while (runAxis > 0 && begin[runAxis] === 0 && size[runAxis] === shape[runAxis]) runAxis--;
  const run = size.slice(runAxis).reduce((p, d) => p * d, 1);
  const outer = size.slice(0, runAxis);
  const count = outer.reduce((p, d) => p * d, 1);
  const idx = new Array<number>(runAxis).fill(0);
  const base = begin.reduce((p, b, d) => p + b * strides[d]!, 0);
  for (let r = 0, o = 0; r < count; r++, o += run) {
    let from = base;
    for (let d = 0; d < runAxis; d++) from += idx[d]! * strides[d]!;
    out.set(x.subarray(from, from + run), o);
    for (let d = runAxis - 1; d >= 0; d--) {
      if (++idx[d]! < outer[d]!) break;
      idx[d] = 0;
    }
  }
}

export function makeViewSlice(stock: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = (args) => {
    const { x } = args.inputs as { x: Info };
    if (x.dtype === 'string' || x.dtype === 'complex64') return stock.kernelFunc(args);
    const { begin, size } = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
    const [b, s] = tf.slice_util.parseSliceParams(x as tf.TensorInfo as tf.Tensor, begin, size);
    tf.slice_util.assertParamsValid(x as tf.TensorInfo as tf.Tensor, b, s);
    const backend = args.backend as WasmBackendLike;
    // makeOutput may grow the heap, which detaches older views: take the views after it.
    const out = backend.makeOutput(s, x.dtype);
    if (s.reduce((p, d) => p * d, 1) > 0) {
      sliceInto(backend.typedArrayFromHeap(x) as AnyView, x.shape, b, s, backend.typedArrayFromHeap(out) as AnyView);
    }
    return out;
  };
  return { kernelName: tf.Slice, backendName: 'wasm', kernelFunc };
}
