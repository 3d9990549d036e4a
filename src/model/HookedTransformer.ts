/**
 * A decoder-only transformer with TransformerLens's hook points, in tfjs: GPT-2, Llama and
 * GPT-NeoX/Pythia loaded from a local Hugging Face folder. Every activation passes through a
 * named hook point where it can be cached or replaced (SAE splicing, ablation).
 *
 * Hook tensors have a batch dimension: residual-stream hooks `[batch, pos, d_model]`, per-head
 * `hook_q|k|v|z|rot_q|rot_k` `[batch, pos, heads, d_head]` (k and v with the key/value heads),
 * `hook_attn_scores|hook_pattern` `[batch, heads, query_pos, key_pos]`, MLP hooks
 * `[batch, pos, d_mlp]`, norm `hook_scale` `[batch, pos, 1]`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '../errors.js';
import type { HookedTransformerConfig } from './ModelConfig.js';
import { applyRotary, rotaryTables } from './rotary.js';
import type { BlockWeights, ModelWeights } from './weights.js';
import { disposeWeights, weightTensors } from './weights.js';
import { processWeights as processModelWeights } from './processWeights.js';
import type { WeightProcessingOptions } from './processWeights.js';
import { loadModelFolder } from './loadModel.js';
import { hookShapesFor } from './hookPoints.js';
import { lossPerTokenFromLogits } from './loss.js';
import { fusedAttentionAvailable, fusedCausalAttention, fusedNormalize, fusedNormalizeAvailable, geluNew } from '../backend/index.js';

/**
 * A hook: receives the activation at a hook point and may return a replacement of the same
 * shape (returning nothing keeps it). Runs synchronously inside the forward pass's `tf.tidy`, so
 * tensors it creates are freed with the pass; it must not dispose `act`.
 */
export type HookFn = (act: tf.Tensor, name: string) => tf.Tensor | void;

export type NameFilter = readonly string[] | ((name: string) => boolean);

export type TokenInput = tf.Tensor2D | number[][];

export interface ModelRunOptions {
  /** Hook points whose activations to return in `cache`. */
  readonly names?: NameFilter;
  /** Hooks that may replace activations, by hook name. */
  readonly hooks?: Readonly<Record<string, HookFn>>;
  /** Run blocks 0..stopAtLayer-1 only (TransformerLens `stop_at_layer`); no logits. */
  readonly stopAtLayer?: number;
  /**
   * What to compute after the last block: `logits` `[batch, pos, vocab]`, `loss` (mean next-token
   * cross-entropy, a scalar, as TransformerLens's return_type="loss"), `lossPerToken`
   * `[batch, pos-1]`, or `none` (stop after the last block the cached names need).
   */
  readonly returnType?: 'logits' | 'loss' | 'lossPerToken' | 'none';
}

export interface ModelRunResult {
  /** Logits, loss or per-token loss, per `returnType`; absent when the run stopped early. */
  readonly output?: tf.Tensor;
  /** Cached activations by hook name; the caller owns (and disposes) them. */
  readonly cache: Map<string, tf.Tensor>;
}

export interface FromFolderOptions {
  /**
   * Apply TransformerLens's weight processing (default true, like from_pretrained: fold_ln,
   * center_writing_weights, center_unembed, fold_value_biases); false is
   * from_pretrained_no_processing; an object turns single steps off.
   */
  readonly processWeights?: boolean | WeightProcessingOptions;
  /** Name recorded in cfg.modelName (default: the folder's name). */
  readonly modelName?: string;
}

const LAYER_RE = /^blocks\.(\d+)\./;

/** What one forward pass threads through its blocks, attention and norms. */
interface Pass {
  /** The hook point `name`: runs its hook (maybe replacing `x`), caches it if asked. */
  hp<T extends tf.Tensor>(name: string, x: T): T;
  /** Whether anyone caches or hooks `name` (fused kernels skip what nobody looks at). */
  looks(name: string): boolean;
  /** Whether a hook may replace `name` (fused kernels must then not skip the tfjs ops after it). */
  replaces(name: string): boolean;
  /** The causal mask `[pos, pos]`, built on first use (the fused attention kernel masks by itself). */
  mask(): tf.Tensor2D;
  /** Rotary tables for the positions of this pass (rotary models only). */
  rot: { cos: tf.Tensor2D; sin: tf.Tensor2D } | undefined;
}

export class HookedTransformer {
  private weights: ModelWeights;
  private readonly rotCos: tf.Tensor2D | undefined;
  private readonly rotSin: tf.Tensor2D | undefined;
  private disposed = false;
  /** Whether the last row of weights.WU is b_U (see the constructor). */
  private unembedBiasRow = false;

  constructor(
    readonly cfg: HookedTransformerConfig,
    weights: ModelWeights,
    opts: { processWeights?: boolean | WeightProcessingOptions } = {},
  ) {
    const p = opts.processWeights;
    this.weights = p ? processModelWeights(cfg, weights, p === true ? {} : p) : weights;
    const w = this.weights;
    if (w.bU) {
      // Broadcast-adding b_U to [tokens, vocab] logits costs a third of the unembedding on wasm;
      // as an extra row of W_U (inputs get a column of ones) it is nearly free.
      const bU = w.bU;
      const aug = tf.tidy(() => tf.concat([w.WU, tf.reshape(bU, [1, -1])], 0) as tf.Tensor2D);
      tf.dispose([w.WU, w.bU]);
      w.WU = aug;
      delete w.bU;
      this.unembedBiasRow = true;
    }
    if (cfg.positionalEmbedding === 'rotary') {
      const t = rotaryTables(cfg.nCtx, cfg.rotaryDim, cfg.rotaryBase);
      this.rotCos = tf.tensor2d(t.cos, [cfg.nCtx, cfg.rotaryDim]);
      this.rotSin = tf.tensor2d(t.sin, [cfg.nCtx, cfg.rotaryDim]);
    }
    if (cfg.nHeads % cfg.nKvHeads !== 0) {
      throw new ConfigError(`model config: n_heads ${cfg.nHeads} is not a multiple of n_kv_heads ${cfg.nKvHeads}`);
    }
  }

  /**
   * Loads `config.json` and `model.safetensors` (or the shards listed by
   * `model.safetensors.index.json`) from a local folder. Weights are processed as
   * TransformerLens's `from_pretrained` does unless `processWeights: false`
   * (`from_pretrained_no_processing`).
   */
  static async fromFolder(dir: string, opts: FromFolderOptions = {}): Promise<HookedTransformer> {
    const { cfg, weights } = await loadModelFolder(dir, opts.modelName);
    return new HookedTransformer(cfg, weights, { processWeights: opts.processWeights ?? true });
  }

  /**
   * The unembedding W_U `[d_model, d_vocab]` as the hooks see the model (after weight
   * processing: ln_final folded in, centered over the vocabulary), without b_U. A new tensor
   * that the caller disposes. Analysis (logit weights, TSEA, dashboards) projects through it.
   */
  unembedWeights(): tf.Tensor2D {
    const wU = this.weights.WU;
    return this.unembedBiasRow ? tf.slice(wU, [0, 0], [wU.shape[0] - 1, -1]) : tf.clone(wU);
  }

  /** Frees the weights. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    disposeWeights(this.weights);
    this.rotCos?.dispose();
    this.rotSin?.dispose();
  }

  /** Number of parameters (the untied unembedding counted separately). */
  get numParams(): number {
    return weightTensors(this.weights).reduce((s, t) => s + t.size, 0);
  }

  /** Every hook point of this model, in the order the forward pass reaches them. */
  hookNames(): string[] {
    return Object.keys(this.hookShapes());
  }

  /** The shape of each hook point's activation for a `[batch, pos]` input (hookPoints.ts). */
  hookShapes(batch = 1, pos = 1): Record<string, number[]> {
    return hookShapesFor(this.cfg, batch, pos);
  }

  /** Logits `[batch, pos, vocab]`. */
  logits(tokens: TokenInput): tf.Tensor3D {
    return this.run(tokens, { returnType: 'logits' }).output as tf.Tensor3D;
  }

  /** Next-token cross-entropy `[batch, pos-1]`: position t predicts token t+1. */
  lossPerToken(tokens: TokenInput): tf.Tensor2D {
    return this.run(tokens, { returnType: 'lossPerToken' }).output as tf.Tensor2D;
  }

  /**
   * Runs the model and returns the activations of the hook points `names` selects. With a list
   * of names and no logits asked for, the pass stops after the last block those names need.
   * `returnType` defaults to 'logits' unless stopAtLayer is set or `names` is a list ('none':
   * stop early); `logits` repeats `output` when it is the logits.
   */
  runWithCache(tokens: TokenInput, opts: ModelRunOptions = {}): ModelRunResult & { readonly logits?: tf.Tensor } {
    const returnType =
      opts.returnType ?? (opts.stopAtLayer !== undefined || Array.isArray(opts.names) ? 'none' : 'logits');
    const r = this.run(tokens, { ...opts, returnType });
    return returnType === 'logits' && r.output ? { ...r, logits: r.output } : r;
  }

  /** Runs with hooks that may replace activations; returns logits, mean loss or per-token loss. */
  runWithHooks(
    tokens: TokenInput,
    opts: { hooks: Readonly<Record<string, HookFn>>; returnType?: 'logits' | 'loss' | 'lossPerToken' },
  ): tf.Tensor {
    return this.run(tokens, { hooks: opts.hooks, returnType: opts.returnType ?? 'logits' }).output!;
  }

  /**
   * Greedy (argmax) decoding: appends up to `maxNewTokens` tokens to `prompt` (stopping at the
   * context length), recomputing the whole sequence each step (no KV cache), and returns
   * prompt + new tokens.
   */
  generateGreedy(prompt: readonly number[], maxNewTokens: number): number[] {
    const seq = [...prompt];
    for (let i = 0; i < maxNewTokens && seq.length < this.cfg.nCtx; i++) {
      const next = tf.tidy(() => {
        const logits = this.logits([seq]);
        const last = tf.slice(logits, [0, seq.length - 1, 0], [1, 1, this.cfg.dVocab]);
        return tf.argMax(tf.reshape(last, [-1]));
      });
      seq.push(next.dataSync()[0]!);
      next.dispose();
    }
    return seq;
  }

  /** The general forward pass behind every other method. */
  run(tokensIn: TokenInput, opts: ModelRunOptions = {}): ModelRunResult {
    if (this.disposed) throw new ConfigError('HookedTransformer: used after dispose()');
    const cfg = this.cfg;
    const returnType = opts.returnType ?? 'logits';
    const wants = nameFilter(opts.names);
    const hooks = opts.hooks ?? {};
    const stop = opts.stopAtLayer;
    if (stop !== undefined && (!Number.isInteger(stop) || stop < 0 || stop > cfg.nLayers)) {
      throw new ConfigError(`stopAtLayer: ${stop} is not an integer in [0, ${cfg.nLayers}]`);
    }
    for (const name of Object.keys(hooks)) {
      if (!this.isHookName(name)) throw new ConfigError(`hooks: '${name}' is not a hook point of ${cfg.modelName}`);
    }
    if (Array.isArray(opts.names)) {
      // A misspelt name would otherwise silently cache nothing.
      for (const name of opts.names as readonly string[]) {
        if (!this.isHookName(name)) throw new ConfigError(`names: '${name}' is not a hook point of ${cfg.modelName}`);
      }
    }
    // How far to run: to stopAtLayer if given; with returnType 'none' and a list of names, to
    // the last block those names (cached or hooked) touch; else through the unembedding.
    let lastLayer = stop ?? cfg.nLayers;
    let needFinalNorm = stop === undefined;
    if (stop === undefined && returnType === 'none' && typeof opts.names !== 'function') {
      const names = [...((opts.names as readonly string[] | undefined) ?? []), ...Object.keys(hooks)];
      needFinalNorm = names.some((n) => n.startsWith('ln_final.'));
      lastLayer = needFinalNorm ? cfg.nLayers : 0;
      for (const n of names) {
        const m = LAYER_RE.exec(n);
        // blocks.L.hook_resid_pre is the output of block L-1: block L itself need not run.
        if (m) lastLayer = Math.max(lastLayer, Number(m[1]) + (n.endsWith('.hook_resid_pre') ? 0 : 1));
      }
    }
    const needUnembed = stop === undefined && returnType !== 'none';

    const cacheObj: Record<string, tf.Tensor> = {};
    const cachedSet = new Set<tf.Tensor>();
    const result = tf.tidy(() => {
      const tokens = this.checkTokens(tokensIn);
      const [B, P] = tokens.shape;
      const hp = <T extends tf.Tensor>(name: string, x: T): T => {
        const f = hooks[name];
        let fromHook = false;
        if (f) {
          const r = f(x, name);
          if (r) {
            fromHook = r !== x;
            if (r.shape.length !== x.shape.length || r.shape.some((d, i) => d !== x.shape[i])) {
              throw new ShapeError(`hook '${name}': returned shape [${r.shape}], expected [${x.shape}]`);
            }
            x = (r.dtype === 'float32' ? r : tf.cast(r, 'float32')) as T;
          }
        }
        if (wants(name)) {
          // One tensor may sit at two hook points (resid_post of L is resid_pre of L+1), and a
          // hook may return a tensor its caller owns: each cache entry must be the caller's own.
          const v = fromHook || cachedSet.has(x) ? tf.clone(x) : x;
          cachedSet.add(v);
          cacheObj[name] = v;
        }
        return x;
      };
      const looks = (name: string) => wants(name) || hooks[name] !== undefined;
      const w = this.weights;
      const flat = tf.reshape(tokens, [-1]);
      let resid: tf.Tensor3D = hp('hook_embed', tf.reshape(tf.gather(w.WE, flat), [B, P, cfg.dModel]) as tf.Tensor3D);
      if (cfg.positionalEmbedding === 'standard' && w.WPos) {
        const pos = tf.slice(w.WPos, [0, 0], [P, cfg.dModel]);
        // The hook sees [batch, pos, d_model] (as in TransformerLens); tiling is slow on wasm,
        // so only do it when someone looks.
        resid = tf.add(resid, looks('hook_pos_embed') ? hp('hook_pos_embed', tf.broadcastTo(pos, [B, P, cfg.dModel]) as tf.Tensor3D) : pos);
      }
      let maskTensor: tf.Tensor2D | undefined;
      const pass: Pass = {
        hp,
        looks,
        replaces: (name) => hooks[name] !== undefined,
        mask: () => (maskTensor ??= causalMask(P)),
        rot: cfg.positionalEmbedding === 'rotary'
          ? { cos: tf.slice(this.rotCos!, [0, 0], [P, cfg.rotaryDim]), sin: tf.slice(this.rotSin!, [0, 0], [P, cfg.rotaryDim]) }
          : undefined,
      };
      for (let l = 0; l < lastLayer; l++) {
        resid = this.block(l, w.blocks[l]!, resid, pass);
      }
      if (lastLayer < cfg.nLayers) hp(`blocks.${lastLayer}.hook_resid_pre`, resid);
      if (!needFinalNorm) return { cache: cacheObj };
      const normed = this.norm(resid, w.lnFinalW, w.lnFinalB, 'ln_final', pass);
      if (!needUnembed) return { cache: cacheObj };
      let x = tf.reshape(normed, [B * P, cfg.dModel]);
      // b_U is the last row of W_U (see the constructor).
      if (this.unembedBiasRow) x = tf.concat([x, tf.ones([B * P, 1])], 1);
      const logits = tf.matMul(x, w.WU);
      const logits3 = tf.reshape(logits, [B, P, cfg.dVocab]) as tf.Tensor3D;
      if (returnType === 'logits') return { cache: cacheObj, output: logits3 };
      const perTok = lossPerTokenFromLogits(logits3, tokens);
      return { cache: cacheObj, output: returnType === 'loss' ? tf.mean(perTok) : perTok };
    }) as { cache: Record<string, tf.Tensor>; output?: tf.Tensor };
    const out: ModelRunResult = { cache: new Map(Object.entries(result.cache)) };
    return result.output ? { ...out, output: result.output } : out;
  }

  private hookNameSet: Set<string> | undefined;

  private isHookName(name: string): boolean {
    this.hookNameSet ??= new Set(this.hookNames());
    return this.hookNameSet.has(name);
  }

  private checkTokens(t: TokenInput): tf.Tensor2D {
    const tokens = Array.isArray(t) ? tf.tensor2d(t, undefined, 'int32') : t;
    if (tokens.rank !== 2) throw new ShapeError(`tokens: expected [batch, pos], got shape [${tokens.shape}]`);
    if (tokens.dtype !== 'int32') throw new ShapeError(`tokens: expected int32, got ${tokens.dtype}`);
    if (tokens.shape[1] > this.cfg.nCtx) {
      throw new ShapeError(`tokens: ${tokens.shape[1]} positions exceed the context of ${this.cfg.nCtx}`);
    }
    if (tokens.shape[1] < 1) throw new ShapeError('tokens: need at least one position');
    return tokens;
  }

  private norm<T extends tf.Tensor3D>(
    x: T,
    w: tf.Tensor1D | undefined,
    b: tf.Tensor1D | undefined,
    prefix: string,
    { hp, replaces }: Pass,
  ): tf.Tensor3D {
    const t = this.cfg.normalizationType;
    const eps = this.cfg.eps;
    // One native pass for the normalization unless a hook may replace the scale (the division
    // must then use the replaced one); a cached scale is the same either way.
    if (!replaces(`${prefix}.hook_scale`) && fusedNormalizeAvailable()) {
      const [normed, scaleOut] = fusedNormalize(x, eps, t === 'LN' || t === 'LNPre');
      hp(`${prefix}.hook_scale`, scaleOut);
      let n: tf.Tensor3D = normed;
      if (t === 'LN') {
        if (w) n = tf.mul(n, w);
        if (b) n = tf.add(n, b);
        return hp(`${prefix}.hook_normalized`, n);
      }
      // TransformerLens's RMSNorm hooks the normalized value before the weight.
      n = hp(`${prefix}.hook_normalized`, n);
      return t === 'RMS' && w ? (tf.mul(n, w) as tf.Tensor3D) : n;
    }
    if (t === 'LN' || t === 'LNPre') {
      const centered = tf.sub(x, tf.mean(x, -1, true));
      const scale = hp(`${prefix}.hook_scale`, tf.sqrt(tf.add(tf.mean(tf.square(centered), -1, true), eps)));
      let n = tf.div(centered, scale);
      if (t === 'LN') {
        if (w) n = tf.mul(n, w);
        if (b) n = tf.add(n, b);
      }
      return hp(`${prefix}.hook_normalized`, n as tf.Tensor3D);
    }
    const scale = hp(`${prefix}.hook_scale`, tf.sqrt(tf.add(tf.mean(tf.square(x), -1, true), eps)));
    // TransformerLens's RMSNorm hooks the normalized value before the weight.
    const n = hp(`${prefix}.hook_normalized`, tf.div(x, scale) as tf.Tensor3D);
    return t === 'RMS' && w ? (tf.mul(n, w) as tf.Tensor3D) : n;
  }

  private linear(x: tf.Tensor, W: tf.Tensor2D, b: tf.Tensor1D | undefined): tf.Tensor2D {
    const y = tf.matMul(x as tf.Tensor2D, W) as tf.Tensor2D;
    return b ? (tf.add(y, b) as tf.Tensor2D) : y;
  }

  /**
   * z [B, P, H, dh] from q, k, v. Where no hook looks at the scores or the pattern, one fused
   * native kernel (backend/ops/modelOps.ts: no transposes, no [B, H, P, P] tensors); otherwise
   * the hooked tfjs ops.
   */
  private attention(
    p: string,
    q: tf.Tensor4D,
    k: tf.Tensor4D,
    v: tf.Tensor4D,
    { hp, looks, mask }: Pass,
  ): tf.Tensor4D {
    const H = this.cfg.nHeads;
    const K = this.cfg.nKvHeads;
    const dh = this.cfg.dHead;
    if (!looks(`${p}.attn.hook_attn_scores`) && !looks(`${p}.attn.hook_pattern`) && fusedAttentionAvailable()) {
      return fusedCausalAttention(q, k, v, 1 / Math.sqrt(dh));
    }
    const qh = tf.transpose(q, [0, 2, 1, 3]); // [B, H, P, dh]
    let kh = tf.transpose(k, [0, 2, 3, 1]); // [B, K, dh, P]: plain matMul, no transpose flag
    let vh = tf.transpose(v, [0, 2, 1, 3]); // [B, K, P, dh]
    if (K !== H) {
      // Grouped-query attention: query head h reads kv head floor(h / (H/K)).
      const g = H / K;
      const idx = tf.tensor1d(Array.from({ length: H }, (_, h) => Math.floor(h / g)), 'int32');
      kh = tf.gather(kh, idx, 1);
      vh = tf.gather(vh, idx, 1);
    }
    let scores = tf.div(tf.matMul(qh, kh), Math.sqrt(dh)) as tf.Tensor4D;
    scores = hp(`${p}.attn.hook_attn_scores`, tf.add(scores, mask()) as tf.Tensor4D);
    const pattern = hp(`${p}.attn.hook_pattern`, tf.softmax(scores) as tf.Tensor4D);
    return tf.transpose(tf.matMul(pattern, vh), [0, 2, 1, 3]) as tf.Tensor4D;
  }

  private block(
    l: number,
    bw: BlockWeights,
    residPre: tf.Tensor3D,
    pass: Pass,
  ): tf.Tensor3D {
    const { hp, rot } = pass;
    const cfg = this.cfg;
    const p = `blocks.${l}`;
    const [B, P, D] = residPre.shape;
    const H = cfg.nHeads;
    const K = cfg.nKvHeads;
    const dh = cfg.dHead;
    residPre = hp(`${p}.hook_resid_pre`, residPre);

    // --- attention ---
    const n1 = tf.reshape(this.norm(residPre, bw.ln1W, bw.ln1B, `${p}.ln1`, pass), [B * P, D]);
    let q = hp(`${p}.attn.hook_q`, tf.reshape(this.linear(n1, bw.WQ, bw.bQ), [B, P, H, dh]) as tf.Tensor4D);
    let k = hp(`${p}.attn.hook_k`, tf.reshape(this.linear(n1, bw.WK, bw.bK), [B, P, K, dh]) as tf.Tensor4D);
    const v = hp(`${p}.attn.hook_v`, tf.reshape(this.linear(n1, bw.WV, bw.bV), [B, P, K, dh]) as tf.Tensor4D);
    if (rot) {
      q = hp(`${p}.attn.hook_rot_q`, applyRotary(q, rot.cos, rot.sin));
      k = hp(`${p}.attn.hook_rot_k`, applyRotary(k, rot.cos, rot.sin));
    }
    const z = hp(`${p}.attn.hook_z`, this.attention(p, q, k, v, pass));
    const attnOut = hp(
      `${p}.hook_attn_out`,
      tf.reshape(this.linear(tf.reshape(z, [B * P, H * dh]), bw.WO, bw.bO), [B, P, D]) as tf.Tensor3D,
    );

    // --- MLP ---
    const mlpIn = cfg.parallelAttnMlp ? residPre : hp(`${p}.hook_resid_mid`, tf.add(residPre, attnOut) as tf.Tensor3D);
    const n2 = tf.reshape(this.norm(mlpIn, bw.ln2W, bw.ln2B, `${p}.ln2`, pass), [B * P, D]);
    const M = cfg.dMlp;
    let post: tf.Tensor3D;
    if (cfg.gatedMlp) {
      const pre = hp(`${p}.mlp.hook_pre`, tf.reshape(tf.matMul(n2, bw.WGate!), [B, P, M]) as tf.Tensor3D);
      const preLin = hp(`${p}.mlp.hook_pre_linear`, tf.reshape(this.linear(n2, bw.WIn, bw.bIn), [B, P, M]) as tf.Tensor3D);
      post = tf.mul(activate(pre, cfg.actFn), preLin);
    } else {
      const pre = hp(`${p}.mlp.hook_pre`, tf.reshape(this.linear(n2, bw.WIn, bw.bIn), [B, P, M]) as tf.Tensor3D);
      post = activate(pre, cfg.actFn);
    }
    post = hp(`${p}.mlp.hook_post`, post);
    const mlpOut = hp(
      `${p}.hook_mlp_out`,
      tf.reshape(this.linear(tf.reshape(post, [B * P, M]), bw.WOut, bw.bOut), [B, P, D]) as tf.Tensor3D,
    );
    const residPost = cfg.parallelAttnMlp ? tf.add(tf.add(residPre, attnOut), mlpOut) : tf.add(mlpIn, mlpOut);
    return hp(`${p}.hook_resid_post`, residPost as tf.Tensor3D);
  }
}

function nameFilter(names: NameFilter | undefined): (name: string) => boolean {
  if (names === undefined) return () => false;
  if (typeof names === 'function') return names as (name: string) => boolean;
  const set = new Set(names as readonly string[]);
  return (n) => set.has(n);
}

/** `[pos, pos]`: 0 on and below the diagonal, -inf above (TransformerLens masks with -inf). */
function causalMask(p: number): tf.Tensor2D {
  const m = new Float32Array(p * p);
  for (let i = 0; i < p; i++) for (let j = i + 1; j < p; j++) m[i * p + j] = -Infinity;
  return tf.tensor2d(m, [p, p]);
}

function activate<T extends tf.Tensor>(x: T, act: HookedTransformerConfig['actFn']): T {
  switch (act) {
    case 'relu':
      return tf.relu(x);
    case 'silu':
      return tf.mul(x, tf.sigmoid(x));
    case 'gelu':
      // exact GELU: x·Φ(x) = 0.5·x·(1 + erf(x/√2))
      return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
    case 'gelu_new':
    case 'gelu_fast':
      // GPT-2's tanh approximation (backend/ops/modelOps.ts: one native pass where available).
      return geluNew(x);
  }
}
