/**
 * The shape and semantics of a HookedTransformer, in TransformerLens's terms (camelCase), and
 * how to read it from a Hugging Face `config.json` of the three supported families.
 */
import { ConfigError } from '../errors.js';

export type ModelFamily = 'gpt2' | 'llama' | 'gpt-neox';

/** Activation of the MLP: HF names (`gelu_new` is GPT-2's tanh approximation, `gelu` is exact). */
export type ActivationName = 'gelu_new' | 'gelu' | 'gelu_fast' | 'relu' | 'silu';

/**
 * `LN`/`RMS`: the norm carries its weight (and bias); `LNPre`/`RMSPre`: the weights were folded
 * into the next linear layers (TransformerLens `fold_ln`), the norm only centers and scales.
 */
export type NormalizationType = 'LN' | 'LNPre' | 'RMS' | 'RMSPre';

export interface HookedTransformerConfig {
  readonly family: ModelFamily;
  readonly modelName: string;
  readonly nLayers: number;
  readonly dModel: number;
  readonly nHeads: number;
  /** Key/value heads (grouped-query attention); equals nHeads without GQA. */
  readonly nKvHeads: number;
  readonly dHead: number;
  readonly dMlp: number;
  readonly dVocab: number;
  /** Maximum context length (positions). */
  readonly nCtx: number;
  readonly actFn: ActivationName;
  normalizationType: NormalizationType;
  readonly eps: number;
  readonly positionalEmbedding: 'standard' | 'rotary';
  /** Dimensions of each head that rotary embeddings rotate (rotate_half layout). */
  readonly rotaryDim: number;
  readonly rotaryBase: number;
  /** GPT-NeoX parallel residual: attention and MLP both read resid_pre (no hook_resid_mid). */
  readonly parallelAttnMlp: boolean;
  /** Llama SwiGLU MLP: `W_out(act(x W_gate) * (x W_in))`. */
  readonly gatedMlp: boolean;
  readonly tiedEmbeddings: boolean;
  readonly bosTokenId: number | undefined;
  readonly eosTokenId: number | undefined;
  /** Whether TransformerLens's default weight processing was applied at load. */
  weightsProcessed: boolean;
}

type Json = Record<string, unknown>;

function num(cfg: Json, file: string, ...keys: string[]): number {
  for (const k of keys) {
    const v = cfg[k];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  throw new ConfigError(`${file}: missing numeric field ${keys.map((k) => `'${k}'`).join(' or ')}`);
}

function optNum(cfg: Json, ...keys: string[]): number | undefined {
  for (const k of keys) {
    const v = cfg[k];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  return undefined;
}

/** A token id field: a number, or the first of a list (HF allows both for eos_token_id). */
export function firstId(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (Array.isArray(v) && typeof v[0] === 'number') return v[0];
  return undefined;
}

function activation(v: unknown, file: string): ActivationName {
  const known: Record<string, ActivationName> = {
    gelu_new: 'gelu_new',
    gelu_pytorch_tanh: 'gelu_new',
    gelu: 'gelu',
    gelu_fast: 'gelu_fast',
    relu: 'relu',
    silu: 'silu',
    swish: 'silu',
  };
  const a = typeof v === 'string' ? known[v] : undefined;
  if (a === undefined) throw new ConfigError(`${file}: activation '${String(v)}' is not supported (expected one of ${Object.keys(known).join(', ')})`);
  return a;
}

/** The fields the Llama and GPT-NeoX configs spell alike. */
function llamaLikeShapes(cfg: Json, file: string) {
  const dModel = num(cfg, file, 'hidden_size');
  const nHeads = num(cfg, file, 'num_attention_heads');
  return {
    nLayers: num(cfg, file, 'num_hidden_layers'),
    dModel,
    nHeads,
    dMlp: num(cfg, file, 'intermediate_size'),
    dVocab: num(cfg, file, 'vocab_size'),
    nCtx: optNum(cfg, 'max_position_embeddings') ?? 2048,
    positionalEmbedding: 'rotary' as const,
    tiedEmbeddings: cfg['tie_word_embeddings'] === true,
  };
}

/** Reads the family and shapes from a parsed HF `config.json`. `file` names it in errors. */
export function configFromHf(cfg: Json, file = 'config.json', modelName = ''): HookedTransformerConfig {
  const type = cfg['model_type'];
  const arch = Array.isArray(cfg['architectures']) ? String(cfg['architectures'][0]) : '';
  const common = {
    modelName: modelName || (typeof cfg['_name_or_path'] === 'string' ? (cfg['_name_or_path'] as string) : String(type)),
    bosTokenId: firstId(cfg['bos_token_id']),
    eosTokenId: firstId(cfg['eos_token_id']),
    weightsProcessed: false,
  };
  if (type === 'gpt2' || arch === 'GPT2LMHeadModel') {
    // Variants whose attention scaling this forward pass does not implement.
    if (cfg['scale_attn_by_inverse_layer_idx'] === true || cfg['scale_attn_weights'] === false) {
      throw new ConfigError(`${file}: GPT-2 attention variants scale_attn_by_inverse_layer_idx / scale_attn_weights=false are not supported`);
    }
    const dModel = num(cfg, file, 'n_embd', 'hidden_size');
    const nHeads = num(cfg, file, 'n_head', 'num_attention_heads');
    return {
      family: 'gpt2',
      ...common,
      nLayers: num(cfg, file, 'n_layer', 'num_hidden_layers'),
      dModel,
      nHeads,
      nKvHeads: nHeads,
      dHead: dModel / nHeads,
      dMlp: optNum(cfg, 'n_inner') ?? 4 * dModel,
      dVocab: num(cfg, file, 'vocab_size'),
      nCtx: num(cfg, file, 'n_positions', 'n_ctx'),
      actFn: activation(cfg['activation_function'] ?? 'gelu_new', file),
      normalizationType: 'LN',
      eps: optNum(cfg, 'layer_norm_epsilon') ?? 1e-5,
      positionalEmbedding: 'standard',
      rotaryDim: 0,
      rotaryBase: 10000,
      parallelAttnMlp: false,
      gatedMlp: false,
      tiedEmbeddings: cfg['tie_word_embeddings'] !== false,
    };
  }
  if (type === 'llama' || arch === 'LlamaForCausalLM') {
    if (cfg['rope_scaling'] !== null && cfg['rope_scaling'] !== undefined) {
      throw new ConfigError(`${file}: rope_scaling ${JSON.stringify(cfg['rope_scaling'])} is not supported (only plain RoPE)`);
    }
    const shapes = llamaLikeShapes(cfg, file);
    const dHead = optNum(cfg, 'head_dim') ?? shapes.dModel / shapes.nHeads;
    return {
      family: 'llama',
      ...common,
      ...shapes,
      nKvHeads: optNum(cfg, 'num_key_value_heads') ?? shapes.nHeads,
      dHead,
      actFn: activation(cfg['hidden_act'] ?? 'silu', file),
      normalizationType: 'RMS',
      eps: optNum(cfg, 'rms_norm_eps') ?? 1e-6,
      rotaryDim: dHead,
      rotaryBase: optNum(cfg, 'rope_theta') ?? 10000,
      parallelAttnMlp: false,
      gatedMlp: true,
    };
  }
  if (type === 'gpt_neox' || arch === 'GPTNeoXForCausalLM') {
    const shapes = llamaLikeShapes(cfg, file);
    const dHead = shapes.dModel / shapes.nHeads;
    const pct = optNum(cfg, 'rotary_pct', 'partial_rotary_factor') ?? 0.25;
    return {
      family: 'gpt-neox',
      ...common,
      ...shapes,
      nKvHeads: shapes.nHeads,
      dHead,
      actFn: activation(cfg['hidden_act'] ?? 'gelu', file),
      normalizationType: 'LN',
      eps: optNum(cfg, 'layer_norm_eps') ?? 1e-5,
      // HF GPTNeoXAttention: rotary_ndims = int(head_size * rotary_pct)
      rotaryDim: Math.floor(dHead * pct),
      rotaryBase: optNum(cfg, 'rotary_emb_base', 'rope_theta') ?? 10000,
      parallelAttnMlp: cfg['use_parallel_residual'] !== false,
      gatedMlp: false,
    };
  }
  throw new ConfigError(
    `${file}: model_type '${String(type)}' (architectures ${JSON.stringify(cfg['architectures'] ?? null)}) is not supported; expected gpt2, llama or gpt_neox`,
  );
}
