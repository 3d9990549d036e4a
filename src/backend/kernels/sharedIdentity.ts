/**
 * An Identity kernel for the wasm backend that shares the input's buffer (a reference count, as
 * the wasm Reshape kernel and the cpu backend's Identity already do) instead of copying it.
 *
 * Why: tfjs's engine saves every tensor a gradient needs with `keep(clone(t))`, and clone runs
 * Identity: the stock wasm kernel copies. In an SAE step at (512, 4096, batch 4096) that was five
 * extra [batch, d_sae] buffers (320 MB of a 872 MB peak) and their memcpys. tfjs tensors are
 * immutable (a Variable's assign swaps its buffer, it never writes into one), so sharing is safe.
 */
import * as tf from '@tensorflow/tfjs-core';

interface RefCountingBackend {
  incRef(dataId: tf.DataId): void;
}

export function makeSharedIdentity(stock: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype === 'string') return stock.kernelFunc(args);
    (args.backend as unknown as RefCountingBackend).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  return { kernelName: tf.Identity, backendName: 'wasm', kernelFunc };
}
