/**
 * Model weights in TransformerLens's layout, with heads flattened so that every linear layer is
 * one plain matMul: W_Q `[d_model, n_heads*d_head]` (column h*d_head + j is TL's W_Q[h, :, j]),
 * W_O `[n_heads*d_head, d_model]`, W_in `[d_model, d_mlp]`, W_U `[d_model, d_vocab]`, and the
 * conversion from the Hugging Face state dicts of the three families.
 */
import * as tf from '@tensorflow/tfjs-core';
import { FileFormatError, ShapeError } from '../errors.js';
import type { HookedTransformerConfig } from './ModelConfig.js';

export interface BlockWeights {
  ln1W?: tf.Tensor1D;
  ln1B?: tf.Tensor1D;
  ln2W?: tf.Tensor1D;
  ln2B?: tf.Tensor1D;
  WQ: tf.Tensor2D;
  bQ?: tf.Tensor1D;
  WK: tf.Tensor2D;
  bK?: tf.Tensor1D;
  WV: tf.Tensor2D;
  bV?: tf.Tensor1D;
  WO: tf.Tensor2D;
  bO?: tf.Tensor1D;
  /** Gated MLPs only: the gate projection (HF gate_proj). */
  WGate?: tf.Tensor2D;
  WIn: tf.Tensor2D;
  bIn?: tf.Tensor1D;
  WOut: tf.Tensor2D;
  bOut?: tf.Tensor1D;
}

export interface ModelWeights {
  WE: tf.Tensor2D;
  /** Learned positions (GPT-2 only). */
  WPos?: tf.Tensor2D;
  blocks: BlockWeights[];
  lnFinalW?: tf.Tensor1D;
  lnFinalB?: tf.Tensor1D;
  /** Absent in a model loaded for its activations only (`unembed: false`). */
  WU?: tf.Tensor2D;
  bU?: tf.Tensor1D;
}

/** What weightsFromHf converts. */
export interface WeightConversionOptions {
  /**
   * Convert the unembedding (default true). false leaves W_U out: a model for activations only,
   * and a tied model's largest matrix is then neither transposed nor kept a second time.
   */
  readonly unembed?: boolean;
}

/**
 * The untied unembedding's tensor in each family's checkpoints (GPT-2 and Llama: lm_head; GPT-NeoX:
 * embed_out), at the top level of the state dict. A loader that leaves W_U out skips reading it.
 */
export const UNTIED_UNEMBED_TENSORS: ReadonlySet<string> = new Set(['lm_head.weight', 'embed_out.weight']);

/** What the loader needs from a tensor file (a safetensors file, a set of shards, a Map). */
export interface TensorSource {
  has(name: string): boolean;
  shape(name: string): number[];
  read(name: string): Float32Array;
}

/** Frees every tensor in `w`. */
export function disposeWeights(w: ModelWeights): void {
  tf.dispose(weightTensors(w));
}

/** Every tensor of `w` with a stable name (for counting, tests and benches). */
export function weightTensors(w: ModelWeights): tf.Tensor[] {
  const all: Array<tf.Tensor | undefined> = [w.WE, w.WPos, w.lnFinalW, w.lnFinalB, w.WU, w.bU];
  for (const b of w.blocks) all.push(...Object.values(b));
  return all.filter((t): t is tf.Tensor => t !== undefined);
}

/** tf.tidy for results typed as interfaces (which lack TensorContainer's index signature). */
function tidyWeights<T>(f: () => T): T {
  return tf.tidy(() => f() as unknown as tf.TensorContainer) as unknown as T;
}

class Reader {
  constructor(
    private readonly src: TensorSource,
    private readonly prefixes: string[],
    private readonly file: string,
  ) {}

  resolve(name: string): string | undefined {
    for (const p of this.prefixes) if (this.src.has(p + name)) return p + name;
    return undefined;
  }

  has(name: string): boolean {
    return this.resolve(name) !== undefined;
  }

  /** Reads `name` as float32 and checks its shape. */
  get(name: string, shape: number[]): tf.Tensor {
    const full = this.resolve(name);
    if (full === undefined) {
      throw new FileFormatError(`${this.file}: tensor '${this.prefixes[0]}${name}' is missing`);
    }
    const actual = this.src.shape(full);
    if (actual.length !== shape.length || actual.some((d, i) => d !== shape[i])) {
      throw new ShapeError(`${this.file}: tensor '${full}' has shape [${actual}], expected [${shape}]`);
    }
    return tf.tensor(this.src.read(full), shape, 'float32');
  }

  opt(name: string, shape: number[]): tf.Tensor | undefined {
    return this.has(name) ? this.get(name, shape) : undefined;
  }

  /** An `nn.Linear` weight `[out, in]`, returned as `[in, out]`. */
  linearT(name: string, out: number, inp: number): tf.Tensor2D {
    const w = this.get(name, [out, inp]);
    const t = tf.transpose(w) as tf.Tensor2D;
    w.dispose();
    return t;
  }
}

/**
 * W_U `[d_model, d_vocab]`: the untied `name` when the checkpoint has it and the config does not
 * tie it, else WEᵀ; undefined when the unembedding is left out.
 */
function unembedOf(cfg: HookedTransformerConfig, top: Reader, name: string, WE: tf.Tensor2D, withUnembed: boolean): tf.Tensor2D | undefined {
  if (!withUnembed) return undefined;
  return !cfg.tiedEmbeddings && top.has(name) ? top.linearT(name, cfg.dVocab, cfg.dModel) : (tf.transpose(WE) as tf.Tensor2D);
}

/**
 * Converts a Hugging Face state dict into TransformerLens-layout weights (unprocessed, i.e.
 * `from_pretrained_no_processing`). `file` names the source in errors.
 */
export function weightsFromHf(cfg: HookedTransformerConfig, src: TensorSource, file: string, opts: WeightConversionOptions = {}): ModelWeights {
  const withUnembed = opts.unembed !== false;
  switch (cfg.family) {
    case 'gpt2':
      return gpt2Weights(cfg, new Reader(src, ['transformer.', ''], file), withUnembed);
    case 'llama':
      return llamaWeights(cfg, new Reader(src, ['model.', ''], file), new Reader(src, [''], file), withUnembed);
    case 'gpt-neox':
      return neoxWeights(cfg, new Reader(src, ['gpt_neox.', ''], file), new Reader(src, [''], file), withUnembed);
  }
}

function gpt2Weights(cfg: HookedTransformerConfig, r: Reader, withUnembed: boolean): ModelWeights {
  const { dModel: d, dMlp: m, dVocab: v, nCtx } = cfg;
  return tidyWeights(() => {
    const WE = r.get('wte.weight', [v, d]) as tf.Tensor2D;
    const blocks: BlockWeights[] = [];
    for (let l = 0; l < cfg.nLayers; l++) {
      const p = `h.${l}.`;
      // Conv1D keeps [in, out]; c_attn packs q, k, v side by side, head-major within each.
      const cAttn = r.get(`${p}attn.c_attn.weight`, [d, 3 * d]) as tf.Tensor2D;
      const cAttnB = r.get(`${p}attn.c_attn.bias`, [3 * d]) as tf.Tensor1D;
      const [WQ, WK, WV] = tf.split(cAttn, 3, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
      const [bQ, bK, bV] = tf.split(cAttnB, 3, 0) as [tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
      blocks.push({
        ln1W: r.get(`${p}ln_1.weight`, [d]) as tf.Tensor1D,
        ln1B: r.get(`${p}ln_1.bias`, [d]) as tf.Tensor1D,
        ln2W: r.get(`${p}ln_2.weight`, [d]) as tf.Tensor1D,
        ln2B: r.get(`${p}ln_2.bias`, [d]) as tf.Tensor1D,
        WQ, bQ, WK, bK, WV, bV,
        WO: r.get(`${p}attn.c_proj.weight`, [d, d]) as tf.Tensor2D,
        bO: r.get(`${p}attn.c_proj.bias`, [d]) as tf.Tensor1D,
        WIn: r.get(`${p}mlp.c_fc.weight`, [d, m]) as tf.Tensor2D,
        bIn: r.get(`${p}mlp.c_fc.bias`, [m]) as tf.Tensor1D,
        WOut: r.get(`${p}mlp.c_proj.weight`, [m, d]) as tf.Tensor2D,
        bOut: r.get(`${p}mlp.c_proj.bias`, [d]) as tf.Tensor1D,
      });
    }
    // lm_head.weight is absent when tied; use it when present and not tied.
    const WU = unembedOf(cfg, r, 'lm_head.weight', WE, withUnembed);
    return {
      WE,
      WPos: r.get('wpe.weight', [nCtx, d]) as tf.Tensor2D,
      blocks,
      lnFinalW: r.get('ln_f.weight', [d]) as tf.Tensor1D,
      lnFinalB: r.get('ln_f.bias', [d]) as tf.Tensor1D,
      ...(WU ? { WU } : {}),
    };
  });
}

function llamaWeights(cfg: HookedTransformerConfig, r: Reader, top: Reader, withUnembed: boolean): ModelWeights {
  const { dModel: d, dMlp: m, dVocab: v, nHeads: h, nKvHeads: kv, dHead: dh } = cfg;
  return tidyWeights(() => {
    const WE = r.get('embed_tokens.weight', [v, d]) as tf.Tensor2D;
    const blocks: BlockWeights[] = [];
    for (let l = 0; l < cfg.nLayers; l++) {
      const p = `layers.${l}.`;
      const b: BlockWeights = {
        ln1W: r.get(`${p}input_layernorm.weight`, [d]) as tf.Tensor1D,
        ln2W: r.get(`${p}post_attention_layernorm.weight`, [d]) as tf.Tensor1D,
        WQ: r.linearT(`${p}self_attn.q_proj.weight`, h * dh, d),
        WK: r.linearT(`${p}self_attn.k_proj.weight`, kv * dh, d),
        WV: r.linearT(`${p}self_attn.v_proj.weight`, kv * dh, d),
        WO: r.linearT(`${p}self_attn.o_proj.weight`, d, h * dh),
        WGate: r.linearT(`${p}mlp.gate_proj.weight`, m, d),
        WIn: r.linearT(`${p}mlp.up_proj.weight`, m, d),
        WOut: r.linearT(`${p}mlp.down_proj.weight`, d, m),
      };
      // Some Llama-family checkpoints (Qwen2-style attention_bias) carry projection biases.
      const bQ = r.opt(`${p}self_attn.q_proj.bias`, [h * dh]);
      if (bQ) b.bQ = bQ as tf.Tensor1D;
      const bK = r.opt(`${p}self_attn.k_proj.bias`, [kv * dh]);
      if (bK) b.bK = bK as tf.Tensor1D;
      const bV = r.opt(`${p}self_attn.v_proj.bias`, [kv * dh]);
      if (bV) b.bV = bV as tf.Tensor1D;
      const bO = r.opt(`${p}self_attn.o_proj.bias`, [d]);
      if (bO) b.bO = bO as tf.Tensor1D;
      blocks.push(b);
    }
    const WU = unembedOf(cfg, top, 'lm_head.weight', WE, withUnembed);
    return { WE, blocks, lnFinalW: r.get('norm.weight', [d]) as tf.Tensor1D, ...(WU ? { WU } : {}) };
  });
}

function neoxWeights(cfg: HookedTransformerConfig, r: Reader, top: Reader, withUnembed: boolean): ModelWeights {
  const { dModel: d, dMlp: m, dVocab: v, nHeads: h, dHead: dh } = cfg;
  return tidyWeights(() => {
    const WE = r.get('embed_in.weight', [v, d]) as tf.Tensor2D;
    const blocks: BlockWeights[] = [];
    for (let l = 0; l < cfg.nLayers; l++) {
      const p = `layers.${l}.`;
      // query_key_value rows are laid out [head, (q|k|v), d_head] (HF views them as
      // [..., n_heads, 3*head_size] and splits the last axis).
      const qkvT = r.linearT(`${p}attention.query_key_value.weight`, 3 * d, d);
      const qkv = tf.reshape(qkvT, [d, h, 3, dh]);
      const part = (i: number) => tf.reshape(tf.slice(qkv, [0, 0, i, 0], [d, h, 1, dh]), [d, h * dh]) as tf.Tensor2D;
      const qkvB = tf.reshape(r.get(`${p}attention.query_key_value.bias`, [3 * d]), [h, 3, dh]);
      const partB = (i: number) => tf.reshape(tf.slice(qkvB, [0, i, 0], [h, 1, dh]), [h * dh]) as tf.Tensor1D;
      blocks.push({
        ln1W: r.get(`${p}input_layernorm.weight`, [d]) as tf.Tensor1D,
        ln1B: r.get(`${p}input_layernorm.bias`, [d]) as tf.Tensor1D,
        ln2W: r.get(`${p}post_attention_layernorm.weight`, [d]) as tf.Tensor1D,
        ln2B: r.get(`${p}post_attention_layernorm.bias`, [d]) as tf.Tensor1D,
        WQ: part(0), bQ: partB(0), WK: part(1), bK: partB(1), WV: part(2), bV: partB(2),
        WO: r.linearT(`${p}attention.dense.weight`, d, d),
        bO: r.get(`${p}attention.dense.bias`, [d]) as tf.Tensor1D,
        WIn: r.linearT(`${p}mlp.dense_h_to_4h.weight`, m, d),
        bIn: r.get(`${p}mlp.dense_h_to_4h.bias`, [m]) as tf.Tensor1D,
        WOut: r.linearT(`${p}mlp.dense_4h_to_h.weight`, d, m),
        bOut: r.get(`${p}mlp.dense_4h_to_h.bias`, [d]) as tf.Tensor1D,
      });
    }
    const WU = unembedOf(cfg, top, 'embed_out.weight', WE, withUnembed);
    return {
      WE,
      blocks,
      lnFinalW: r.get('final_layer_norm.weight', [d]) as tf.Tensor1D,
      lnFinalB: r.get('final_layer_norm.bias', [d]) as tf.Tensor1D,
      ...(WU ? { WU } : {}),
    };
  });
}
