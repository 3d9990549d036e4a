/**
 * An SAE of any registered architecture (src/sae/architectures/): its config, its parameters as
 * tfjs variables under their SAELens names, and the architecture's float64 state (BatchTopK's
 * threshold). Maths lives in the architecture; losses and the training step in
 * architectures/ and src/train/. The v1.5 standard SAE (DESIGN.md §5) is the default.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '../errors.js';
import type { Architecture, ArchState, ParamTensors } from './architectures/Architecture.js';
import { architectureOf } from './architectures/registry.js';
import { runTimeNormIn, type NormalizeActivations } from './activationNorm.js';
import type { SaeConfig } from './SaeConfig.js';
import { geometricMedian } from './geometricMedian.js';
import { unitRows } from './init.js';
import { standardParams } from './architectures/standard.js';
import type { SaeParams } from './standardForward.js';

export { activation, decodeWith, encodePre, type SaeParams } from './standardForward.js';

/**
 * An SAE's parameters as row-major Float32Arrays by SAELens name, and its architecture state.
 * No tensors. The standard SAE's tensors also read as W_enc … scalingFactor (a clear error for
 * an architecture without that parameter).
 */
export class SaeParamArrays {
  constructor(
    readonly params: Readonly<Record<string, Float32Array>>,
    readonly state: Readonly<ArchState> = {},
  ) {}
  get W_enc(): Float32Array {
    return this.get('W_enc');
  }
  get b_enc(): Float32Array {
    return this.get('b_enc');
  }
  get W_dec(): Float32Array {
    return this.get('W_dec');
  }
  get b_dec(): Float32Array {
    return this.get('b_dec');
  }
  get scalingFactor(): Float32Array {
    return this.get('scaling_factor');
  }
  /** The parameter `name`; a ShapeError naming the parameters there are when absent. */
  get(name: string): Float32Array {
    const a = this.params[name];
    if (!a) throw new ShapeError(`${this.owner()} has no parameter ${name} (it has ${Object.keys(this.params).join(', ')})`);
    return a;
  }
  protected owner(): string {
    return 'the SAE weights';
  }
}

/** Plain-data copy of an SAE: SaeParamArrays plus its config. */
export class SaeSnapshot extends SaeParamArrays {
  constructor(
    readonly cfg: SaeConfig,
    params: Readonly<Record<string, Float32Array>>,
    state: Readonly<ArchState> = {},
  ) {
    super(params, state);
  }
  protected override owner(): string {
    return `the '${this.cfg.architecture}' SAE`;
  }
}

/** The standard SAE's weights (scalingFactor defaults to ones, as SAELens). */
export interface StandardSaeWeights {
  W_enc: Float32Array;
  b_enc: Float32Array;
  W_dec: Float32Array;
  b_dec: Float32Array;
  scalingFactor?: Float32Array;
}

/** Weights of any architecture by SAELens name, plus its state. */
export interface NamedSaeWeights {
  params: Readonly<Record<string, Float32Array>>;
  state?: Readonly<ArchState>;
}

export type SaeWeights = StandardSaeWeights | NamedSaeWeights;

export interface SaeForward {
  out: tf.Tensor2D;
  featureActs: tf.Tensor2D;
  hiddenPre: tf.Tensor2D;
  saeIn: tf.Tensor2D;
}

export const SAE_HOOK_NAMES = ['hook_sae_in', 'hook_hidden_pre', 'hook_hidden_post', 'hook_sae_out'] as const;
export type SaeHookName = (typeof SAE_HOOK_NAMES)[number];

let nextVariableId = 0;

function namedWeights(w: SaeWeights): NamedSaeWeights {
  if ('params' in w && w.params) return w;
  const s = w as StandardSaeWeights;
  return {
    params: {
      W_enc: s.W_enc,
      b_enc: s.b_enc,
      W_dec: s.W_dec,
      b_dec: s.b_dec,
      ...(s.scalingFactor ? { scaling_factor: s.scalingFactor } : {}),
    },
  };
}

export class Sae {
  readonly cfg: SaeConfig;
  readonly arch: Architecture;
  /** The architecture's float64 state (e.g. topk_threshold); the trainer updates it in place. */
  readonly state: ArchState;
  private readonly vars: Record<string, tf.Variable>;
  private disposed = false;

  private constructor(cfg: SaeConfig, tensors: Readonly<Record<string, tf.Tensor>>, state: Readonly<ArchState>) {
    this.arch = validateConfig(cfg);
    this.cfg = cfg;
    this.state = { ...state };
    // Unique names: tfjs keeps a global registry of variable names.
    const id = nextVariableId++;
    const vars: Record<string, tf.Variable> = {};
    try {
      for (const spec of this.arch.params(cfg)) vars[spec.name] = tf.variable(tensors[spec.name]!, true, `sae${id}/${spec.name}`);
    } catch (e) {
      tf.dispose(Object.values(vars));
      throw e;
    }
    this.vars = vars;
  }

  /** A fresh SAE initialised per cfg and its architecture; b_dec zeros. */
  static create(cfg: SaeConfig, opts: { seed?: number } = {}): Sae {
    const arch = validateConfig(cfg);
    const tensors = arch.init(cfg, opts.seed ?? cfg.seed);
    try {
      return new Sae(cfg, tensors, arch.initialState());
    } finally {
      tf.dispose(Object.values(tensors));
    }
  }

  /**
   * An SAE from row-major Float32Arrays: the standard SAE's fields (scalingFactor defaults to
   * ones, as SAELens), or `params` by SAELens name for any architecture.
   */
  static fromWeights(cfg: SaeConfig, w: SaeWeights): Sae {
    const arch = validateConfig(cfg);
    const named = namedWeights(w);
    const specs = arch.params(cfg);
    const tensors: Record<string, tf.Tensor> = {};
    try {
      for (const spec of specs) {
        const n = spec.shape.reduce((a, b) => a * b, 1);
        const arr = named.params[spec.name];
        if (arr === undefined) {
          if (spec.name === 'scaling_factor') {
            tensors[spec.name] = tf.ones([...spec.shape]);
            continue;
          }
          throw new ShapeError(`Sae.fromWeights: '${arch.name}' needs parameter ${spec.name} [${spec.shape.join(', ')}], not given`);
        }
        if (arr.length !== n) {
          throw new ShapeError(`Sae.fromWeights: ${spec.name} has ${arr.length} values, expected ${n} (d_in ${cfg.dIn}, d_sae ${cfg.dSae})`);
        }
        tensors[spec.name] = tf.tensor(arr, [...spec.shape]);
      }
      const known = new Set(specs.map((s) => s.name));
      const extra = Object.keys(named.params).filter((k) => !known.has(k));
      if (extra.length > 0) throw new ShapeError(`Sae.fromWeights: '${arch.name}' has no parameter ${extra.join(', ')}`);
      return new Sae(cfg, tensors, initialState(arch, named.state));
    } finally {
      tf.dispose(Object.values(tensors));
    }
  }

  /** The variable of parameter `name`; a ShapeError naming the architecture's parameters when absent. */
  param(name: string): tf.Variable {
    const v = this.vars[name];
    if (!v) throw new ShapeError(`the '${this.cfg.architecture}' SAE has no parameter ${name} (it has ${Object.keys(this.vars).join(', ')})`);
    return v;
  }

  hasParam(name: string): boolean {
    return name in this.vars;
  }

  /** Parameter names in the architecture's order. */
  paramNames(): string[] {
    return Object.keys(this.vars);
  }

  /** The variables by name (no copies). */
  variables(): Readonly<Record<string, tf.Variable>> {
    return this.vars;
  }

  get W_enc(): tf.Variable {
    return this.param('W_enc');
  }
  get b_enc(): tf.Variable {
    return this.param('b_enc');
  }
  get W_dec(): tf.Variable {
    return this.param('W_dec');
  }
  get b_dec(): tf.Variable {
    return this.param('b_dec');
  }
  get scalingFactor(): tf.Variable {
    return this.param('scaling_factor');
  }

  /** The standard SAE's variables as SaeParams (no copies). */
  params(): SaeParams {
    return standardParams(this.vars as ParamTensors);
  }

  /** The output's width: d_out for a transcoder, d_in for an SAE. */
  get dOut(): number {
    return this.cfg.dOut ?? this.cfg.dIn;
  }

  /**
   * Sets b_dec from a sample of activations per cfg.bDecInitMethod: geometric median
   * (Weiszfeld, 100 iterations), mean, or zeros (left as is). The sample is of what the output
   * reconstructs: the input for an SAE, the target [n, d_out] for a transcoder (b_dec lives in
   * the output space).
   */
  initBDec(sample: tf.Tensor2D): void {
    if (sample.rank !== 2 || sample.shape[1] !== this.dOut) {
      const what = this.arch.transcoder ? 'the target, d_out' : 'd_in';
      throw new ShapeError(`Sae.initBDec: sample must be [n, ${this.dOut}] (${what}), got [${sample.shape.join(', ')}]`);
    }
    const m = this.cfg.bDecInitMethod;
    if (m === 'zeros') return;
    if (m === 'geometric_median') {
      const { median } = geometricMedian(sample, { maxIter: 100 });
      this.b_dec.assign(median);
      median.dispose();
    } else if (m === 'mean') {
      const mean = tf.mean(sample, 0);
      this.b_dec.assign(mean);
      mean.dispose();
    } else {
      throw new ConfigError(`b_dec_init_method: unknown '${String(m)}', expected geometric_median, mean or zeros`);
    }
  }

  /** Feature activations of x (after the run-time input normalisation, if the SAE has one). */
  encode(x: tf.Tensor2D): tf.Tensor2D {
    this.checkInput(x, 'encode');
    return tf.tidy(() => this.arch.forward(this.cfg, this.vars, runTimeNormIn(this.normalization(), x).x, this.state).featureActs);
  }

  /**
   * The reconstruction of feature activations. An SAE that normalises each input row at run
   * time (constant_norm_rescale, layer_norm) needs that row's statistics to undo it: use forward.
   */
  decode(f: tf.Tensor2D): tf.Tensor2D {
    if (f.rank !== 2 || f.shape[1] !== this.cfg.dSae) {
      throw new ShapeError(`Sae.decode: feature acts must be [n, ${this.cfg.dSae}], got [${f.shape.join(', ')}]`);
    }
    const mode = this.normalization();
    if (mode === 'constant_norm_rescale' || mode === 'layer_norm') {
      throw new ConfigError(`Sae.decode: normalize_activations ${mode} undoes a per-row normalisation of the input; decode alone cannot (use forward)`);
    }
    return tf.tidy(() => this.arch.decode(this.cfg, this.vars, f));
  }

  /**
   * Inference forward pass (no noise), with the run-time normalisation of SAELens's
   * `normalize_activations` around it (src/sae/activationNorm.ts). The caller disposes every
   * returned tensor.
   */
  forward(x: tf.Tensor2D): SaeForward {
    this.checkInput(x, 'forward');
    return tf.tidy(() => {
      const norm = runTimeNormIn(this.normalization(), x);
      const { saeIn, hiddenPre, featureActs, out } = this.arch.forward(this.cfg, this.vars, norm.x, this.state);
      // A transcoder's output is another hook's activations: SAELens's Transcoder.decode does not
      // undo the input's normalisation on it (run_time_activation_norm_fn_out is not applied).
      const restored = this.arch.transcoder ? out : norm.restore(out);
      // sae_in may be x itself (apply_b_dec_to_input false): hand back a copy the caller owns.
      return { out: restored, featureActs, hiddenPre, saeIn: saeIn === x ? tf.clone(x) : saeIn };
    });
  }

  private normalization(): NormalizeActivations {
    return this.cfg.normalizeActivations ?? 'none';
  }

  /**
   * The forward pass's values under SAELens's hook names (hook_sae_in, hook_hidden_pre,
   * hook_hidden_post, hook_sae_out). The caller disposes them.
   */
  forwardHooks(x: tf.Tensor2D): Record<SaeHookName, tf.Tensor2D> {
    const r = this.forward(x);
    return { hook_sae_in: r.saeIn, hook_hidden_pre: r.hiddenPre, hook_hidden_post: r.featureActs, hook_sae_out: r.out };
  }

  /** W_dec rows to unit norm (in place). */
  normalizeDecoder(): void {
    const unit = unitRows(this.W_dec as tf.Tensor2D);
    this.W_dec.assign(unit);
    unit.dispose();
  }

  snapshot(): SaeSnapshot {
    const params: Record<string, Float32Array> = {};
    for (const [name, v] of Object.entries(this.vars)) params[name] = v.dataSync() as Float32Array;
    return new SaeSnapshot(this.cfg, params, { ...this.state });
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    tf.dispose(Object.values(this.vars));
  }

  private checkInput(x: tf.Tensor, op: string): void {
    if (x.rank !== 2 || x.shape[1] !== this.cfg.dIn) {
      throw new ShapeError(`Sae.${op}: input must be [n, ${this.cfg.dIn}] (d_in), got [${x.shape.join(', ')}]`);
    }
  }
}

/** The architecture's initial state with `given` entries over it (unknown names are an error). */
function initialState(arch: Architecture, given: Readonly<ArchState> | undefined): ArchState {
  const state = arch.initialState();
  for (const [k, v] of Object.entries(given ?? {})) {
    if (!(k in state)) throw new ShapeError(`Sae.fromWeights: '${arch.name}' has no state ${k} (it has ${Object.keys(state).join(', ') || 'none'})`);
    state[k] = v;
  }
  return state;
}

/** Checks cfg against its architecture (throws a ConfigError naming the field); returns the architecture. */
export function validateConfig(cfg: SaeConfig): Architecture {
  const arch = architectureOf(cfg.architecture);
  for (const k of ['dIn', 'dSae'] as const) {
    if (!Number.isInteger(cfg[k]) || cfg[k] < 1) throw new ConfigError(`${k}: expected a positive integer, got ${cfg[k]}`);
  }
  if (cfg.dOut !== undefined && !arch.transcoder) {
    throw new ConfigError(`d_out: only transcoder architectures have an output width of their own; '${arch.name}' reconstructs its input (d_in ${cfg.dIn})`);
  }
  arch.validate(cfg);
  return arch;
}
