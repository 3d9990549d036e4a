/**
 * Side effect: registers tfjs's gradient functions (Add, Mul, Relu, Sum, …). Imported by
 * register.ts, so every path into the backend (and so into the SAE losses) has them.
 *
 * `@tensorflow/tfjs-core`'s node (CommonJS) bundle registers kernels' forward ops only; the
 * gradients ship with the `@tensorflow/tfjs` bundle, and tfjs-core's own ESM build cannot be
 * imported by Node directly (directory imports). The registries are process-global, so loading
 * the union bundle once makes `tf.variableGrads` work for every tfjs-core import.
 */
import '@tensorflow/tfjs';
