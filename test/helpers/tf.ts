/**
 * Test setup: every test file that uses tensors calls `await setupTf()` in `test.before`.
 * Uses SAE_RX_BACKEND if set (CI leaves it unset: the default choice, wasm here).
 */
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../../src/backend/index.js';

export async function setupTf(): Promise<typeof tf> {
  await selectBackend({ log: () => {} });
  return tf;
}

/** Runs `f` and returns how many tensors it left behind. */
export async function leakedTensors(f: () => unknown | Promise<unknown>): Promise<number> {
  const before = tf.memory().numTensors;
  await f();
  return tf.memory().numTensors - before;
}

/**
 * Whether our kernel `name` is registered on `backend` (after setupTf): decided before the tests
 * are declared (top-level await), so a test that needs it is declared `test.skip` with the reason
 * instead of passing without checking anything (see skip.ts).
 */
export async function kernelRegistered(name: string, backend: string): Promise<boolean> {
  const { ensureSaeKernels } = await import('../../src/backend/register.js');
  await setupTf();
  const prev = tf.getBackend();
  await tf.setBackend(backend);
  try {
    ensureSaeKernels(backend);
    return tf.getKernel(name, backend) !== undefined;
  } finally {
    await tf.setBackend(prev);
  }
}

