/**
 * `loadSession`: SAELens's session loader (`LMSparseAutoencoderSessionloader.load_pretrained_sae`)
 * in one call: the SAE(s) (by release name, Hub repo folder or local folder), the model their
 * config names (a local folder or a Hub repo), and an activation source set up from the SAE's
 * config (hook, head, context size, prepend_bos, dataset), ready for analysis:
 *
 *   const s = await loadSession({ release: 'gpt2-small-res-jb', saeId: 'blocks.8.hook_resid_pre' });
 *   s.activations().pipe(take(10)).subscribe(...);   // ActivationBatch at the SAE's hook
 *   s.dispose();
 *
 * Several SAEs share one model and one dataset: their hooks are read in one forward pass.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Observable } from 'rxjs';
import { ConfigError } from '../errors.js';
import type { HubConfig } from '../hub/config.js';
import type { HookedTransformer } from '../model/HookedTransformer.js';
import { type TextTokenizer, loadTokenizer } from '../model/tokenizer.js';
import { modelActivations } from '../operators/modelActivations.js';
import { packContext } from '../operators/packContext.js';
import { fromPretrained } from '../sae/pretrained/fromPretrained.js';
import type { PretrainedRegistry } from '../sae/pretrained/registry.js';
import type { Sae } from '../sae/Sae.js';
import { SAE_CFG_PATH, loadSae, loadSaeSparsity } from '../sae/saeFolder.js';
import type { ActivationBatch } from '../stream/ActivationBatch.js';
import type { Document } from '../stream/Document.js';
import type { TokenBatch } from '../stream/TokenBatch.js';
import { datasetDocuments, loadRunnerModel } from './languageModelRunner.js';

/** Which SAE: a release of the registry (or a Hub repo id) and SAE id, or a local SAE folder. */
export type SessionSaeSpec = { readonly release: string; readonly saeId: string } | { readonly folder: string };

export interface LoadSessionOptions {
  readonly hub?: Partial<HubConfig>;
  readonly registry?: PretrainedRegistry;
  /** The model to load instead of the one the SAE's config names (a local folder or Hub repo). */
  readonly model?: string;
  /** The dataset instead of the config's `dataset_path` (a local file/folder or Hub dataset). */
  readonly datasetPath?: string;
  /** Documents to read instead of any dataset (tests, custom sources). */
  readonly documents?: Observable<Document>;
  /** Sequences per token batch (SAELens `store_batch_size`, default 32). */
  readonly storeBatchSize?: number;
  /** Stream the dataset (default true, as SAELens's `streaming`). */
  readonly streaming?: boolean;
  readonly warn?: (message: string) => void;
}

export interface SessionSae {
  readonly sae: Sae;
  /** cfg.json as read (with a release's config_overrides and neuronpedia_id). */
  readonly cfgDict: Record<string, unknown>;
  readonly sparsity: Float32Array | null;
  /** Where its files are (a local folder or the Hub cache). */
  readonly folder: string;
}

/** The activation-source settings every SAE of the session agrees on, from their configs. */
export interface SessionSettings {
  readonly modelName: string;
  readonly hooks: readonly string[];
  readonly hookHeadIndex: number | null;
  readonly contextSize: number;
  readonly prependBos: boolean;
  /** null when the SAE's config names no dataset and none was given. */
  readonly datasetPath: string | null;
  readonly storeBatchSize: number;
}

export interface Session {
  readonly model: HookedTransformer;
  readonly modelDir: string;
  readonly tokenizer: TextTokenizer;
  readonly saes: readonly SessionSae[];
  readonly settings: SessionSettings;
  /** Token batches of the dataset, packed as the SAE was trained (cold: each subscription reads anew). */
  tokens(): Observable<TokenBatch>;
  /** Activations at the SAEs' hooks (`[n, d_in]`, or `[n, hooks, d_in]` for several hooks). */
  activations(): Observable<ActivationBatch>;
  /** Frees the model and the SAEs. */
  dispose(): void;
}

type Obj = Record<string, unknown>;

/** A config key in the v1.5 flat cfg.json or the v6 metadata block (first name found). */
function cfgValue(cfg: Obj, ...keys: string[]): unknown {
  const meta = typeof cfg['metadata'] === 'object' && cfg['metadata'] !== null ? (cfg['metadata'] as Obj) : {};
  for (const k of keys) {
    if (cfg[k] !== undefined) return cfg[k];
    if (meta[k] !== undefined) return meta[k];
  }
  return undefined;
}

async function loadOne(spec: SessionSaeSpec, opts: LoadSessionOptions): Promise<SessionSae> {
  if ('folder' in spec) {
    const cfgPath = path.join(spec.folder, SAE_CFG_PATH);
    let cfgDict: Obj;
    try {
      cfgDict = JSON.parse(fs.readFileSync(cfgPath, 'utf8')) as Obj;
    } catch (e) {
      throw new ConfigError(`loadSession: ${cfgPath}: cannot read the SAE config (${(e as Error).message})`, { cause: e });
    }
    const sae = await loadSae(spec.folder);
    try {
      return { sae, cfgDict, sparsity: await loadSaeSparsity(spec.folder), folder: spec.folder };
    } catch (e) {
      sae.dispose();
      throw e;
    }
  }
  const p = await fromPretrained(spec.release, spec.saeId, {
    ...(opts.hub ? { hub: opts.hub } : {}),
    ...(opts.registry ? { registry: opts.registry } : {}),
    ...(opts.warn ? { warn: opts.warn } : {}),
  });
  return { sae: p.sae, cfgDict: p.cfgDict, sparsity: p.sparsity, folder: p.folder };
}

/** What the SAEs' configs say about the activation source; they must agree. */
function sessionSettings(saes: readonly SessionSae[], opts: LoadSessionOptions): SessionSettings {
  const one = (what: string, values: unknown[]): unknown => {
    const distinct = [...new Set(values.map((v) => JSON.stringify(v)))];
    if (distinct.length > 1) throw new ConfigError(`loadSession: the SAEs disagree on ${what} (${distinct.join(' vs ')}); load them in separate sessions`);
    return values[0];
  };
  const modelName = opts.model ?? one('model_name', saes.map((s) => cfgValue(s.cfgDict, 'model_name') ?? s.sae.cfg.modelName));
  const contextSize = one('context_size', saes.map((s) => cfgValue(s.cfgDict, 'context_size') ?? s.sae.cfg.contextSize));
  const prependBos = one('prepend_bos', saes.map((s) => cfgValue(s.cfgDict, 'prepend_bos') ?? s.sae.cfg.prependBos));
  const head = one('hook_point_head_index', saes.map((s) => s.sae.cfg.hookPointHeadIndex));
  const dataset = opts.datasetPath ?? one('dataset_path', saes.map((s) => cfgValue(s.cfgDict, 'dataset_path') ?? null));
  if (typeof modelName !== 'string' || modelName === '') throw new ConfigError('loadSession: the SAE config names no model (model_name); pass options.model');
  if (typeof contextSize !== 'number' || !(contextSize > 0)) throw new ConfigError(`loadSession: the SAE config's context_size ${JSON.stringify(contextSize)} is not a positive number`);
  const storeBatchSize = opts.storeBatchSize ?? 32;
  if (!(Number.isInteger(storeBatchSize) && storeBatchSize > 0)) throw new ConfigError(`loadSession: storeBatchSize must be a positive integer, got ${storeBatchSize}`);
  return {
    modelName,
    hooks: [...new Set(saes.map((s) => s.sae.cfg.hookPoint))],
    hookHeadIndex: (head as number | null) ?? null,
    contextSize,
    prependBos: prependBos !== false,
    datasetPath: typeof dataset === 'string' ? dataset : null,
    storeBatchSize,
  };
}

/**
 * Loads the SAE(s), the model their config names, its tokenizer, and sets up the activation
 * source from the config. On failure everything loaded so far is freed.
 */
export async function loadSession(spec: SessionSaeSpec | readonly SessionSaeSpec[], opts: LoadSessionOptions = {}): Promise<Session> {
  const specs: readonly SessionSaeSpec[] = Array.isArray(spec) ? spec : [spec as SessionSaeSpec];
  if (specs.length === 0) throw new ConfigError('loadSession: no SAE given');
  const saes: SessionSae[] = [];
  let model: HookedTransformer | undefined;
  try {
    for (const s of specs) saes.push(await loadOne(s, opts));
    const settings = sessionSettings(saes, opts);
    const loaded = await loadRunnerModel(settings.modelName, opts.hub);
    model = loaded.model;
    const shapes = model.hookShapes(1, 1);
    for (const s of saes) {
      const h = s.sae.cfg.hookPoint;
      if (!(h in shapes)) throw new ConfigError(`loadSession: the SAE's hook ${h} is not a hook point of ${settings.modelName}`);
    }
    const tokenizer = loadTokenizer(loaded.dir);
    const m = model;
    const tokens = (): Observable<TokenBatch> => {
      const docs =
        opts.documents ??
        (settings.datasetPath !== null
          ? datasetDocuments({ dataset_path: settings.datasetPath, streaming: opts.streaming ?? true }, opts.hub)
          : undefined);
      if (!docs) throw new ConfigError('loadSession: the SAE config names no dataset (dataset_path); pass options.datasetPath or options.documents');
      return docs.pipe(
        packContext({
          contextSize: settings.contextSize,
          prependBos: settings.prependBos,
          tokenizer,
          ...(tokenizer.bosTokenId !== undefined ? { bosToken: tokenizer.bosTokenId } : {}),
          storeBatchSize: settings.storeBatchSize,
          maxDocumentTokens: m.cfg.nCtx,
        }),
      );
    };
    let disposed = false;
    return {
      model: m,
      modelDir: loaded.dir,
      tokenizer,
      saes,
      settings,
      tokens,
      activations: () => tokens().pipe(modelActivations(m, { hooks: settings.hooks, headIndex: settings.hookHeadIndex })),
      dispose: () => {
        if (disposed) return;
        disposed = true;
        m.dispose();
        for (const s of saes) s.sae.dispose();
      },
    };
  } catch (e) {
    model?.dispose();
    for (const s of saes) s.sae.dispose();
    throw e;
  }
}
