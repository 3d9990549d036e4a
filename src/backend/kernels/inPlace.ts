/**
 * What the native kernels (blasBatchMatMul.ts, sparseKernels.ts) need from the wasm and cpu
 * backends to read inputs and write outputs in place, without copies: the backend slices they
 * use and the cpu-side view of a tensor's values.
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
