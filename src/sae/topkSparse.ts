/**
 * The TopK-family training forward (TopK, BatchTopK, Matryoshka BatchTopK, SAELens 6 numerics)
 * built around the few latents each row keeps, as EleutherAI sparsify's fused kernels do. Only
 * the encoder forward x·W_enc is a dense product; everything after it is O(nnz·d):
 *
 *   selection          topkSelect: x·W_enc + b_enc in row chunks, kept latents as CSR
 *   decoder forward    x̂[b] = Σ_{l kept} pre[b,l]·W_dec[l] + b_dec          (gather-sum)
 *   activation grad    dpre[b,l] = ⟨dx̂[b], W_dec[l]⟩, kept (b,l) only         (compact sddmm)
 *   decoder gradient   dW_dec[l] = Σ_b pre[b,l]·dx̂[b], kept rows only         (scatter)
 *   encoder gradient   dW_enc[:,l] = Σ_b dpre[b,l]·sae_in[b], kept entries     (scatter, transpose)
 *   biases             db_enc = Σ_b dpre; db_dec(input) = −db_enc·W_encᵀ       (one [1,d_sae] product)
 *
 * AuxK's dead candidates are a second index of k_aux entries per row, through the same ops.
 *
 * Why the decoder values are the plain pre-activations: with rescale_acts_by_decoder_norm
 * SAELens scores h = pre·‖W_dec,l‖, keeps relu(topk(h)), and decodes acts·(1/‖W_dec,l‖): on a
 * kept entry that is pre·n/n = pre, so both the value and its derivative in n (which cancels
 * between the encode and decode scalings) are those of pre. The norms only choose the entries.
 * The same holds for AuxK (its acts are h, decoded with 1/n). So the parameter gradients are the
 * dense autograd's, up to float32 rounding (test/sae/topkSparse.test.ts checks it).
 *
 * Native only (`topkKernelsAvailable()`); the dense path (the architectures' own forward) is the
 * reference and runs everywhere else.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '../errors.js';
import { stopGradient } from './ops.js';
import {
  csrGatherSum, csrSampledDot, csrScatterT, disposeSelection, saeMatMul, topkSelect, transpose2d,
  type CsrIndex, type TopKSelection,
} from '../backend/index.js';

type Arg = tf.Tensor | tf.GradSaveFunc;

/** The parameters the step reads (variables while training). */
export interface TopKFamilyParams {
  W_enc: tf.Tensor2D;
  b_enc: tf.Tensor1D;
  W_dec: tf.Tensor2D;
  b_dec: tf.Tensor1D;
}

export interface TopKFamilyOptions {
  /** TopK: latents per row (integer). BatchTopK: mean latents per row (the batch keeps floor(k·batch)). */
  k: number;
  /** 'topk' selects per row, 'batchtopk' over the batch (Matryoshka BatchTopK is 'batchtopk' + widths). */
  selection: 'topk' | 'batchtopk';
  /** SAELens rescale_acts_by_decoder_norm (training default true). */
  rescaleActsByDecoderNorm: boolean;
  /** SAELens apply_b_dec_to_input: the encoder sees x − b_dec. */
  applyBDecToInput: boolean;
  /** Dead latents for AuxK (SAELens dead_neuron_mask); empty: no AuxK term (it is 0). */
  deadIdx: Int32Array;
  /** SAELens aux_loss_coefficient. */
  auxLossCoefficient: number;
  /** Matryoshka: the inner widths (strictly increasing, each < d_sae); each adds a partial-reconstruction MSE. */
  matryoshkaInnerWidths?: readonly number[];
  /**
   * What x̂ reconstructs, [batch, d_out] (a transcoder's target; default x). It may carry a
   * gradient (a skip transcoder passes target − x·W_skipᵀ): it enters only through tfjs ops.
   */
  target?: tf.Tensor2D;
}

/** The forward's losses (scalars on the gradient path) and what the trainer's statistics need. */
export interface TopKFamilyForward {
  loss: tf.Scalar;
  mse: tf.Scalar;
  auxiliaryReconstruction: tf.Scalar;
  /** Each inner width's partial-reconstruction MSE, in width order (empty without Matryoshka). */
  innerMse: Array<[number, tf.Scalar]>;
  /** Per-row ‖x̂ − x‖² [batch]. */
  perTokenMse: tf.Tensor1D;
  /** x̂ [batch, d_in]. */
  saeOut: tf.Tensor2D;
  /** The kept latents: per latent how many rows fired it, nnz, and the smallest activation (as SAELens's feature_acts: pre·norm under rescale). */
  fired: { counts: Float32Array; nnz: number; minActivation: number };
}

/**
 * pre at ix's entries (the values topkSelect computed), differentiable in W_enc, b_enc and, when
 * given, b_dec (the encoder input is then x − b_dec, x constant): the gradients of the dense
 * x·W_enc + b_enc sampled at ix, computed from the sampled gradient only.
 */
function encodeAt(ix: CsrIndex, pre: tf.Tensor1D, saeIn: tf.Tensor2D, wEnc: tf.Tensor2D, bEnc: tf.Tensor1D, bDec: tf.Tensor1D | null): tf.Tensor1D {
  const dSae = wEnc.shape[1];
  const op = tf.customGrad((...args: Arg[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    save([ix.rowPtr, ix.colIdx, saeIn, wEnc]);
    return {
      value: tf.clone(pre),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [rowPtr, colIdx, xs, ws] = saved as [tf.Tensor1D, tf.Tensor1D, tf.Tensor2D, tf.Tensor2D];
        const s: CsrIndex = { ...ix, rowPtr, colIdx };
        const g = dy as tf.Tensor1D;
        const dWT = csrScatterT(s, g, xs); // [d_sae, d_in]
        const dW = transpose2d(dWT);
        dWT.dispose();
        const db = tf.reshape(csrScatterT(s, g, tf.ones([ix.rows, 1])), [dSae]) as tf.Tensor1D;
        if (!bDec) return [dW, db];
        const dbDec = tf.neg(tf.reshape(saeMatMul(tf.reshape(db, [1, dSae]), ws, false, true), [ws.shape[0]]));
        return [dW, db, dbDec];
      },
    };
  });
  return (bDec ? op(wEnc, bEnc, bDec) : op(wEnc, bEnc)) as tf.Tensor1D;
}

/** Σ_{l} vals[b,l]·W_dec[l] per row over ix's entries, differentiable in vals and W_dec. */
function decodeAt(ix: CsrIndex, vals: tf.Tensor1D, wDec: tf.Tensor2D): tf.Tensor2D {
  const op = tf.customGrad((...args: Arg[]) => {
    const [v, w, save] = args as [tf.Tensor1D, tf.Tensor2D, tf.GradSaveFunc];
    save([ix.rowPtr, ix.colIdx, v, w]);
    return {
      value: csrGatherSum(ix, v, w),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [rowPtr, colIdx, vs, ws] = saved as [tf.Tensor1D, tf.Tensor1D, tf.Tensor1D, tf.Tensor2D];
        const s: CsrIndex = { ...ix, rowPtr, colIdx };
        const d = dy as tf.Tensor2D;
        return [csrSampledDot(s, d, ws), csrScatterT(s, vs, d)];
      },
    };
  });
  return op(vals, wDec) as tf.Tensor2D;
}

const rowSumSq = (a: tf.Tensor2D) => tf.sum(tf.square(a), -1) as tf.Tensor1D;

/** Checks Matryoshka widths against d_sae (strictly increasing, each in (0, d_sae)). */
export function checkInnerWidths(widths: readonly number[], dSae: number): void {
  let prev = 0;
  for (const w of widths) {
    if (!(Number.isInteger(w) && w > prev && w < dSae)) {
      throw new ConfigError(`matryoshka widths: ${JSON.stringify(widths)} must be strictly increasing integers in (0, d_sae ${dSae}) before the final level`);
    }
    prev = w;
  }
}

/**
 * The training forward of a TopK-family SAE on the batch x [batch, d_in] (constant), SAELens 6:
 * loss = Σ_b ‖x̂ − y‖²/batch (y = o.target, a transcoder's, else x) (+ AuxK when dead latents exist: coeff·min(dead/k_aux, 1)·
 * mean_b ‖ê − sg(x − x̂)‖², k_aux = min(d_in/2, dead), ê without b_dec) (+ Matryoshka's inner
 * partial reconstructions). Call inside tf.variableGrads / tf.grads: gradients flow to the params.
 */
export function topkFamilyForward(p: TopKFamilyParams, x: tf.Tensor2D, o: TopKFamilyOptions): TopKFamilyForward {
  const dIn = x.shape[1];
  const dSae = p.W_enc.shape[1];
  if (p.W_enc.shape[0] !== dIn) throw new ShapeError(`topkFamilyForward: x is [${x.shape}], W_enc [${p.W_enc.shape}]`);
  if (p.W_dec.shape[0] !== dSae) throw new ShapeError(`topkFamilyForward: W_dec is [${p.W_dec.shape}], d_sae ${dSae}`);
  const target = o.target ?? x;
  if (target.shape[0] !== x.shape[0] || target.shape[1] !== p.W_dec.shape[1]) {
    throw new ShapeError(`topkFamilyForward: target is [${target.shape}], expected [${x.shape[0]}, ${p.W_dec.shape[1]}] (rows of x, columns of W_dec)`);
  }
  const widths = o.matryoshkaInnerWidths ?? [];
  checkInnerWidths(widths, dSae);
  const nDead = o.deadIdx.length;
  const kAuxBase = Math.floor(dIn / 2);
  const kAux = nDead > 0 ? Math.min(kAuxBase, nDead) : 0;
  const saeIn = o.applyBDecToInput ? (tf.sub(x, p.b_dec) as tf.Tensor2D) : x;
  // The decoder norms only choose the entries (see the file comment): no gradient through them.
  const norms = o.rescaleActsByDecoderNorm ? tf.tidy(() => tf.sqrt(tf.sum(tf.square(p.W_dec), 1)) as tf.Tensor1D) : null;
  let sel: TopKSelection;
  let normData: Float32Array | null = null;
  try {
    sel = topkSelect(saeIn, p.W_enc, p.b_enc, { k: o.k, batch: o.selection === 'batchtopk', scale: norms, dead: o.deadIdx, kAux });
    normData = norms ? (norms.dataSync() as Float32Array) : null;
  } finally {
    norms?.dispose();
  }
  try {
    const colIdx = sel.index.colIdx.dataSync() as Int32Array;
    const preData = sel.pre.dataSync() as Float32Array;
    const counts = new Float32Array(dSae);
    let minAct = Infinity;
    for (let q = 0; q < sel.index.nnz; q++) {
      const c = colIdx[q]!;
      counts[c]! += 1;
      const a = normData ? preData[q]! * normData[c]! : preData[q]!;
      if (a < minAct) minAct = a;
    }

    const pre = encodeAt(sel.index, sel.pre, saeIn, p.W_enc, p.b_enc, o.applyBDecToInput ? p.b_dec : null);
    const recon = decodeAt(sel.index, pre, p.W_dec);
    const saeOut = tf.add(recon, p.b_dec) as tf.Tensor2D;
    const perTokenMse = rowSumSq(tf.sub(saeOut, target) as tf.Tensor2D);
    const mse = tf.mean(perTokenMse) as tf.Scalar;

    let aux = tf.scalar(0);
    if (sel.aux) {
      const residual = stopGradient(tf.sub(target, saeOut) as tf.Tensor2D); // SAELens .detach()
      const auxPre = encodeAt(sel.aux.index, sel.aux.pre, saeIn, p.W_enc, p.b_enc, o.applyBDecToInput ? p.b_dec : null);
      const auxRecon = decodeAt(sel.aux.index, auxPre, p.W_dec);
      const scaleAux = Math.min(nDead / kAuxBase, 1);
      aux = tf.mul(tf.mean(rowSumSq(tf.sub(auxRecon, residual) as tf.Tensor2D)), o.auxLossCoefficient * scaleAux) as tf.Scalar;
    }

    const innerMse: Array<[number, tf.Scalar]> = [];
    for (const w of widths) {
      const mask = new Float32Array(colIdx.length);
      for (let q = 0; q < sel.index.nnz; q++) mask[q] = colIdx[q]! < w ? 1 : 0;
      const partial = tf.add(decodeAt(sel.index, tf.mul(pre, tf.tensor1d(mask)) as tf.Tensor1D, p.W_dec), p.b_dec) as tf.Tensor2D;
      innerMse.push([w, tf.mean(rowSumSq(tf.sub(partial, target) as tf.Tensor2D)) as tf.Scalar]);
    }
    const loss = tf.addN([mse, aux, ...innerMse.map(([, l]) => l)]) as tf.Scalar;
    return {
      loss, mse, auxiliaryReconstruction: aux, innerMse, perTokenMse, saeOut,
      fired: { counts, nnz: sel.index.nnz, minActivation: sel.index.nnz > 0 ? minAct : 0 },
    };
  } finally {
    // The gradients hold what they need through save(); the selection's own handles go.
    disposeSelection(sel);
  }
}
