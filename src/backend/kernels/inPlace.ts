/**
 * What the native kernels (blasBatchMatMul.ts, sparseKernels.ts, adamKernel.ts) need from the
 * wasm and cpu backends to read inputs and write outputs in place, without copies: the backend
 * slices they use, the cpu-side view of a tensor's values, and nativeKernel, which wires both.
 */
import * as tf from '@tensorflow/tfjs-core';

export type Info = tf.TensorInfo;
/** An in-place view of a float32 or int32 tensor's values. */
export type View = Float32Array | Int32Array;

export type BlasBackendKind = 'wasm' | 'cpu';

/** The slice of tfjs-backend-wasm's BackendWasm the native kernels use. */
export interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  typedArrayFromHeap(t: Info): tf.TypedArray;
}

/** The slice of tfjs-backend-cpu's MathBackendCPU the native kernels use. */
export interface CpuBackendLike {
  data: { get(dataId: tf.DataId): { values?: unknown } };
  readSync(dataId: tf.DataId): unknown;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: tf.TypedArray): Info;
}

/**
 * The cpu backend's own array of `t`'s values (float32 or int32 tensors), so the kernel reads
 * it in place.
 */
export function cpuView(backend: CpuBackendLike, t: Info): View {
  const v = backend.data.get(t.dataId).values;
  if (v instanceof Float32Array || v instanceof Int32Array) return v;
  // Only reachable if the values are stored in another array type: convert once.
  const vals = backend.readSync(t.dataId) as ArrayLike<number>;
  return t.dtype === 'int32' ? Int32Array.from(vals) : Float32Array.from(vals);
}

export interface OutSpec {
  shape: number[];
  dtype: 'float32' | 'int32';
}

/**
 * A kernel function that allocates `outs(inputs, attrs)`, then calls `run` with views of the
 * inputs (in `names` order) and of the outputs. On wasm, outputs are allocated before any view
 * is taken: allocation may grow the heap, which detaches older views.
 */
export function nativeKernel(
  kind: BlasBackendKind,
  names: string[],
  outs: (inputs: Info[], attrs: Record<string, unknown>) => OutSpec[],
  run: (ins: View[], outViews: View[], inputs: Info[], attrs: Record<string, unknown>) => void,
): tf.KernelFunc {
  return (args) => {
    const inputs = names.map((n) => (args.inputs as Record<string, Info>)[n]!);
    const attrs = (args.attrs ?? {}) as Record<string, unknown>;
    const specs = outs(inputs, attrs);
    if (kind === 'wasm') {
      const backend = args.backend as WasmBackendLike;
      const infos = specs.map((s) => backend.makeOutput(s.shape, s.dtype));
      const ins = inputs.map((t) => backend.typedArrayFromHeap(t) as View);
      const outViews = infos.map((t) => backend.typedArrayFromHeap(t) as View);
      run(ins, outViews, inputs, attrs);
      return infos.length === 1 ? infos[0]! : infos;
    }
    const backend = args.backend as CpuBackendLike;
    const ins = inputs.map((t) => cpuView(backend, t));
    const outViews = specs.map((s) => {
      const n = s.shape.reduce((p, d) => p * d, 1);
      return s.dtype === 'int32' ? new Int32Array(n) : new Float32Array(n);
    });
    run(ins, outViews, inputs, attrs);
    const infos = specs.map((s, i) => backend.makeTensorInfo(s.shape, s.dtype, outViews[i]!));
    return infos.length === 1 ? infos[0]! : infos;
  };
}
