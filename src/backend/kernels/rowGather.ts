/**
 * A GatherV2 kernel for the wasm and cpu backends that copies whole contiguous blocks
 * (`TypedArray.set` of a subarray) instead of computing every element's source index.
 *
 * Why: tfjs-wasm 4.22's Gather walks the output element by element through generic strided
 * index arithmetic, ~30 ns an element here: the embedding lookup of a [8, 128]-token batch
 * into GPT-2's [50257, 128] W_E took 4 ms, a third of the tiny model's layer-0 forward
 * (torch's index_select is a row memcpy). The copy is exact, so the results are bit-identical.
 *
 * Handles float32 and int32 params with batchDims 0 (what the model, the shuffles and the
 * analysis tools call); anything else goes to the stock kernel it replaced. Pure JS: it needs
 * no addon, only in-place views (inPlace.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../../errors.js';
import { withViews, type BlasBackendKind, type Info, type View } from './inPlace.js';

interface GatherAttrs {
  axis: number;
  batchDims?: number;
}

/** The output shape and block geometry of gathering `indices` along `axis` of `params`. */
export function gatherGeometry(paramsShape: number[], indicesShape: number[], axisIn: number) {
  const rank = paramsShape.length;
  const axis = axisIn < 0 ? axisIn + rank : axisIn;
  if (axis < 0 || axis >= rank) throw new ShapeError(`GatherV2: axis ${axisIn} is out of range for params of rank ${rank}`);
  const outer = paramsShape.slice(0, axis).reduce((p, d) => p * d, 1);
  const axisDim = paramsShape[axis]!;
  const inner = paramsShape.slice(axis + 1).reduce((p, d) => p * d, 1);
  const outShape = [...paramsShape.slice(0, axis), ...indicesShape, ...paramsShape.slice(axis + 1)];
  return { axis, outer, axisDim, inner, outShape };
}

/** out[o, j, :] = params[o, idx[j], :] for every outer block o; each copy is one `set`. */
export function gatherBlocks(params: View, idx: Int32Array, out: View, outer: number, axisDim: number, inner: number): void {
  const n = idx.length;
  for (let j = 0; j < n; j++) {
    const i = idx[j]!;
    // tfjs's cpu kernel rejects out-of-range indices too (wasm's would read past the row).
    if (!(i >= 0 && i < axisDim)) throw new ShapeError(`GatherV2: index ${i} (at position ${j}) is not in [0, ${axisDim - 1}]`);
  }
  // On wasm both views lie in the one heap buffer: copyWithin on a view of the whole heap then
  // moves each block without making a subarray object per block (a third of the time for
  // GPT-2's 1024-token embedding lookup).
  const heap = params.buffer === out.buffer && params.BYTES_PER_ELEMENT === out.BYTES_PER_ELEMENT && params.byteOffset % params.BYTES_PER_ELEMENT === 0 && out.byteOffset % out.BYTES_PER_ELEMENT === 0
    ? new (params.constructor as Float32ArrayConstructor)(params.buffer)
    : null;
  const pBase = heap ? params.byteOffset / params.BYTES_PER_ELEMENT : 0;
  const oBase = heap ? out.byteOffset / out.BYTES_PER_ELEMENT : 0;
  for (let o = 0; o < outer; o++) {
    const src = o * axisDim * inner;
    const dst = o * n * inner;
    if (inner === 1) {
      for (let j = 0; j < n; j++) out[dst + j] = params[src + idx[j]!]!;
      continue;
    }
    for (let j = 0; j < n; j++) {
      const from = src + idx[j]! * inner;
      if (heap) heap.copyWithin(oBase + dst + j * inner, pBase + from, pBase + from + inner);
      else out.set(params.subarray(from, from + inner), dst + j * inner);
    }
  }
}

export function makeRowGather(kind: BlasBackendKind, stock: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = (args) => {
    const { x, indices } = args.inputs as { x: Info; indices: Info };
    const attrs = args.attrs as unknown as GatherAttrs;
    if ((attrs.batchDims ?? 0) !== 0 || (x.dtype !== 'float32' && x.dtype !== 'int32') || indices.dtype !== 'int32') {
      return stock.kernelFunc(args);
    }
    const g = gatherGeometry(x.shape, indices.shape, attrs.axis);
    return withViews(kind, args.backend, [x, indices], [{ shape: g.outShape, dtype: x.dtype }], ([xv, iv], [outView]) => {
      if (outView!.length > 0) gatherBlocks(xv!, iv as Int32Array, outView!, g.outer, g.axisDim, g.inner);
    });
  };
  return { kernelName: tf.GatherV2, backendName: kind, kernelFunc };
}
