/**
 * Token ids for the model-forward benches, from a seeded LCG: the same ids in Node
 * (modelForward.ts) and in the page (browserPage.ts), with nothing but tfjs-core so the page
 * bundle can take it.
 */
import * as tf from '@tensorflow/tfjs-core';

export function randomTokens(batch: number, pos: number, vocab: number, seed: number): tf.Tensor2D {
  let s = seed >>> 0;
  const a = new Int32Array(batch * pos);
  for (let i = 0; i < a.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s % vocab;
  }
  return tf.tensor2d(a, [batch, pos], 'int32');
}
