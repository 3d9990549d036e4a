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
import { rotaryTables } from './rotary.js';
import type { ModelWeights } from './weights.js';
import { disposeWeights, weightTensors } from './weights.js';
import { processWeights as processModelWeights } from './processWeights.js';
import type { WeightProcessingOptions } from './processWeights.js';
import { loadModelFolder, loadModelFrom } from './loadModel.js';
import type { Folder } from '../io/folder.js';
import { hookShapesFor } from './hookPoints.js';
import { lossPerTokenFromLogits } from './loss.js';
import type { ForwardPass } from './forwardPass.js';
import { embed, unembed } from './embedding.js';
import { normalize } from './norm.js';
import { causalMask } from './attention.js';
import { transformerBlock } from './transformerBlock.js';

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
  /**
   * Load the unembedding (default true). false: a model for activations only (what a cache run
   * needs); logits and losses then throw. It loads faster: a tied model's W_U is its largest
   * matrix, and transposing, folding and centering it was most of a 768-wide GPT-2's load.
   */
  readonly unembed?: boolean;
}

const LAYER_RE = /^blocks\.(\d+)\./;

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
    if (w.bU && w.WU) {
      // Broadcast-adding b_U to [tokens, vocab] logits costs a third of the unembedding on wasm;
      // as an extra row of W_U (inputs get a column of ones) it is nearly free.
      const bU = w.bU;
      const wU = w.WU;
      const aug = tf.tidy(() => tf.concat([wU, tf.reshape(bU, [1, -1])], 0) as tf.Tensor2D);
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
  static async fromFolder(dir: string | Folder, opts: FromFolderOptions = {}): Promise<HookedTransformer> {
    // A path is read from disk (Node); a Folder from wherever it is (a URL, the Hub, dropped files).
    const conv = { unembed: opts.unembed !== false };
    const { cfg, weights } = typeof dir === 'string' ? await loadModelFolder(dir, opts.modelName, conv) : await loadModelFrom(dir, opts.modelName, conv);
    return new HookedTransformer(cfg, weights, { processWeights: opts.processWeights ?? true });
  }

  /**
   * The unembedding W_U `[d_model, d_vocab]` as the hooks see the model (after weight
   * processing: ln_final folded in, centered over the vocabulary), without b_U. A new tensor
   * that the caller disposes. Analysis (logit weights, TSEA, dashboards) projects through it.
   */
  unembedWeights(): tf.Tensor2D {
    const wU = this.requireUnembed('unembedWeights()');
    return this.unembedBiasRow ? tf.slice(wU, [0, 0], [wU.shape[0] - 1, -1]) : tf.clone(wU);
  }

  /** W_U, or a clear error for a model loaded without it (`unembed: false`). */
  private requireUnembed(what: string): tf.Tensor2D {
    const wU = this.weights.WU;
    if (wU === undefined) {
      throw new ConfigError(`${what}: ${this.cfg.modelName} was loaded without its unembedding (unembed: false), for activations only: no logits or losses`);
    }
    return wU;
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
    const WU = needUnembed ? this.requireUnembed(`run (returnType '${returnType}')`) : undefined;

    const cacheObj: Record<string, tf.Tensor> = {};
    const cachedSet = new Set<tf.Tensor>();
    const result = tf.tidy(() => {
      const tokens = this.checkTokens(tokensIn);
      const P = tokens.shape[1];
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
      let maskTensor: tf.Tensor2D | undefined;
      const pass: ForwardPass = {
        hp,
        looks,
        replaces: (name) => hooks[name] !== undefined,
        mask: () => (maskTensor ??= causalMask(P)),
        rot: cfg.positionalEmbedding === 'rotary'
          ? { cos: tf.slice(this.rotCos!, [0, 0], [P, cfg.rotaryDim]), sin: tf.slice(this.rotSin!, [0, 0], [P, cfg.rotaryDim]) }
          : undefined,
      };
      let resid = embed(cfg, w, tokens, pass);
      for (let l = 0; l < lastLayer; l++) {
        resid = transformerBlock(cfg, l, w.blocks[l]!, resid, pass);
      }
      if (lastLayer < cfg.nLayers) hp(`blocks.${lastLayer}.hook_resid_pre`, resid);
      if (!needFinalNorm) return { cache: cacheObj };
      const normed = normalize(cfg, resid, w.lnFinalW, w.lnFinalB, 'ln_final', pass);
      if (!needUnembed) return { cache: cacheObj };
      // b_U is the last row of W_U (see the constructor).
      const logits3 = unembed(cfg, WU!, this.unembedBiasRow, normed);
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
}

function nameFilter(names: NameFilter | undefined): (name: string) => boolean {
  if (names === undefined) return () => false;
  if (typeof names === 'function') return names as (name: string) => boolean;
  const set = new Set(names as readonly string[]);
  return (n) => set.has(n);
}
