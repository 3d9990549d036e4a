/**
 * What the native kernels (blasBatchMatMul.ts, sparseKernels.ts, adamKernel.ts) need from the
 * wasm and cpu backends to read inputs and write outputs in place, without copies: the backend
 * slices they use, the cpu-side view of a tensor's values, withViews, which wires both, and
 * nativeKernel, a kernel function around withViews.
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
  disposeData(dataId: tf.DataId): unknown;
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
 * Allocates outputs of `specs` on `args.backend`, then calls `run` with views of `inputs` and of
 * the outputs, and returns the outputs (one TensorInfo when `specs` has one). On wasm, outputs
 * are allocated before any view is taken: allocation may grow the heap, which detaches older
 * views; if `run` throws, they are freed again.
 */
export function withViews(
  kind: BlasBackendKind,
  backend: unknown,
  inputs: Info[],
  specs: OutSpec[],
  run: (ins: View[], outViews: View[]) => void,
): Info | Info[] {
  if (kind === 'wasm') {
    const wasm = backend as WasmBackendLike;
    const infos = specs.map((s) => wasm.makeOutput(s.shape, s.dtype));
    try {
      run(inputs.map((t) => wasm.typedArrayFromHeap(t) as View), infos.map((t) => wasm.typedArrayFromHeap(t) as View));
    } catch (e) {
      for (const t of infos) wasm.disposeData(t.dataId);
      throw e;
    }
    return infos.length === 1 ? infos[0]! : infos;
  }
  const cpu = backend as CpuBackendLike;
  const outViews = specs.map((s) => {
    const n = s.shape.reduce((p, d) => p * d, 1);
    return s.dtype === 'int32' ? new Int32Array(n) : new Float32Array(n);
  });
  run(inputs.map((t) => cpuView(cpu, t)), outViews);
  const infos = specs.map((s, i) => cpu.makeTensorInfo(s.shape, s.dtype, outViews[i]!));
  return infos.length === 1 ? infos[0]! : infos;
}

/**
 * A kernel function that checks its inputs and plans its outputs with `outs(inputs, attrs)`
 * (throw there, before anything is allocated), then runs `run` on views of the inputs (in
 * `names` order) and of the outputs (withViews).
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
    return withViews(kind, args.backend, inputs, outs(inputs, attrs), (ins, outViews) => run(ins, outViews, inputs, attrs));
  };
}
