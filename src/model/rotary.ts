/**
 * Rotary position embeddings in Hugging Face's rotate_half layout (Llama, GPT-NeoX): the first
 * `rotaryDim` dimensions of each head are split into halves (x1, x2), and
 * `x·cos + (−x2, x1)·sin` is applied with angle `pos · base^(−2i/rotaryDim)` for i < rotaryDim/2.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * cos and sin tables `[pos, rotaryDim]` (each frequency repeated for both halves), computed
 * with float32 rounding at each step as HF does in PyTorch (inv_freq, then pos·inv_freq, then
 * cos/sin of that float32 angle), so the tables match HF's to the last bit or so.
 */
export function rotaryTables(nPos: number, rotaryDim: number, base: number): { cos: Float32Array; sin: Float32Array } {
  const half = rotaryDim / 2;
  const f = Math.fround;
  const invFreq = new Float32Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = f(1 / f(Math.pow(base, f((2 * i) / rotaryDim))));
  const cos = new Float32Array(nPos * rotaryDim);
  const sin = new Float32Array(nPos * rotaryDim);
  for (let p = 0; p < nPos; p++) {
    for (let i = 0; i < half; i++) {
      const angle = f(p * invFreq[i]!);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      cos[p * rotaryDim + i] = c;
      cos[p * rotaryDim + i + half] = c;
      sin[p * rotaryDim + i] = s;
      sin[p * rotaryDim + i + half] = s;
    }
  }
  return { cos, sin };
}

/**
 * Applies RoPE to `x` `[batch, pos, heads, dHead]`; `cos`/`sin` are `[pos, rotaryDim]` tensors.
 * Dimensions past rotaryDim pass through (GPT-NeoX's partial rotary).
 */
export function applyRotary(x: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, p, h, dh] = x.shape;
    const r = cos.shape[1];
    const half = r / 2;
    const xr = r === dh ? x : tf.slice(x, [0, 0, 0, 0], [b, p, h, r]);
    const x1 = tf.slice(xr, [0, 0, 0, 0], [b, p, h, half]);
    const x2 = tf.slice(xr, [0, 0, 0, half], [b, p, h, half]);
    const rotated = tf.concat([tf.neg(x2), x1], 3);
    const c = tf.reshape(cos, [1, p, 1, r]);
    const s = tf.reshape(sin, [1, p, 1, r]);
    const out = tf.add(tf.mul(xr, c), tf.mul(rotated, s));
    if (r === dh) return out as tf.Tensor4D;
    return tf.concat([out, tf.slice(x, [0, 0, 0, r], [b, p, h, dh - r])], 3) as tf.Tensor4D;
  });
}
