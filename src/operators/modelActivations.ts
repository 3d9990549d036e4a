/**
 * Token sequences → a model's activations at some hook points, as SAELens v1.5's
 * `ActivationsStore.get_activations`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Observable, type OperatorFunction } from 'rxjs';
import { ConfigError, SaeRxError, ShapeError, StageError } from '../errors.js';
import type { HookedTransformer } from '../model/HookedTransformer.js';
import type { ActivationBatch } from '../stream/ActivationBatch.js';
import type { TokenBatch } from '../stream/TokenBatch.js';
import { subscribeUpstream } from '../stream/subscribeUpstream.js';
import { emitOrDispose } from '../stream/ownership.js';

export interface ModelActivationsOptions {
  /** Hook points (TransformerLens names); several give `[rows, hooks, dIn]` batches. */
  readonly hooks: readonly string[];
  /**
   * SAELens `hook_point_head_index`: for per-head hooks (`attn.hook_z`, `hook_q`, …) take this
   * head only (`dIn = d_head`). Null/absent: all heads, flattened to `heads·d_head` as SAELens
   * does.
   */
  readonly headIndex?: number | null;
  /**
   * Run blocks `0..stopAtLayer-1` only. Default: as far as the hooks need (the last hooked
   * block, or up to block L for `blocks.L.hook_resid_pre`, which is block L−1's output).
   */
  readonly stopAtLayer?: number;
  /**
   * Transcoders: a second hook of the same forward pass whose activations each batch carries as
   * `target` `[rows, d_out]`, row-aligned with `acts` (e.g. `blocks.L.hook_mlp_out` for an input
   * `blocks.L.ln2.hook_normalized`). Needs exactly one input hook. `headIndex` applies to it too
   * when it has a head axis (SAELens `hook_head_index_out` is taken as the same head).
   */
  readonly targetHook?: string;
  /**
   * The target's head (SAELens `hook_head_index_out`); default: `headIndex` when the target has a
   * head axis, else all heads.
   */
  readonly targetHeadIndex?: number | null;
  /** Attach each row's token id and position (default true). */
  readonly withTokens?: boolean;
  /** Called after each forward pass with the number of sequences it ran (for tests, stats). */
  readonly onForward?: (sequences: number) => void;
}

const LAYER_RE = /^blocks\.(\d+)\./;

/** The stop layer the hooks need: SAELens's `max(layers) + 1`, one less for a `hook_resid_pre`. */
export function stopLayerFor(hooks: readonly string[], nLayers: number): number | undefined {
  let stop = 0;
  for (const h of hooks) {
    if (h.startsWith('ln_final.')) return undefined;
    const m = LAYER_RE.exec(h);
    if (m) stop = Math.max(stop, Number(m[1]) + (h.endsWith('.hook_resid_pre') ? 0 : 1));
  }
  return Math.min(stop, nLayers);
}

/**
 * Runs `model` on each TokenBatch (`n` sequences of `contextSize` tokens) and emits the
 * activations at `hooks`, one row per token: `acts` `[n·contextSize, dIn]` for one hook,
 * `[n·contextSize, hooks, dIn]` for several (each the same width), rows in sequence order.
 * Per-head hooks `[…, heads, d_head]` are flattened to `heads·d_head`, or give one head with
 * `headIndex`. The BOS position is kept (SAELens v1.5 trains on every position).
 *
 * The forward pass runs synchronously inside `next`, one batch at a time, with only the hooked
 * activations cached and the pass stopped at the last block needed; intermediates are freed.
 * Behind a pull source the model never runs ahead of the consumer. Each emitted batch belongs
 * to the subscriber.
 */
export function modelActivations(
  model: HookedTransformer,
  opts: ModelActivationsOptions,
): OperatorFunction<TokenBatch, ActivationBatch> {
  const hooks = [...(opts?.hooks ?? [])];
  if (hooks.length === 0) throw new ConfigError('modelActivations: hooks must name at least one hook point');
  const targetHook = opts.targetHook;
  if (targetHook !== undefined && hooks.length !== 1)
    throw new ConfigError(`modelActivations: targetHook '${targetHook}' needs exactly one input hook, got ${hooks.length} (${hooks.join(', ')}); a transcoder maps one hook to another`);
  const shapes = model.hookShapes(1, 1);
  for (const h of targetHook !== undefined ? [...hooks, targetHook] : hooks) {
    if (!(h in shapes)) throw new ConfigError(`modelActivations: '${h}' is not a hook point of ${model.cfg.modelName}`);
    if (/hook_(pattern|attn_scores)$/.test(h)) throw new ConfigError(`modelActivations: '${h}' is per position pair, not per token; use a per-token hook`);
  }
  const headIndex = opts.headIndex ?? null;
  const checkHead = (h: string, head: number, field: string) => {
    const s = shapes[h]!;
    if (s.length !== 4) throw new ConfigError(`modelActivations: ${field} ${head} given but '${h}' has no head axis (shape [batch, pos, ${s.slice(2).join(', ')}])`);
    if (!Number.isInteger(head) || head < 0 || head >= s[2]!)
      throw new ConfigError(`modelActivations: ${field} must be an integer in [0, ${s[2]! - 1}] for '${h}', got ${head}`);
  };
  if (headIndex !== null) for (const h of hooks) checkHead(h, headIndex, 'headIndex');
  const targetHead = targetHook === undefined ? null
    : opts.targetHeadIndex !== undefined ? opts.targetHeadIndex
    : headIndex !== null && shapes[targetHook]!.length === 4 ? headIndex : null;
  if (targetHook !== undefined && targetHead !== null) checkHead(targetHook, targetHead, 'targetHeadIndex');
  const widthOf = (h: string, head: number | null) => {
    const s = shapes[h]!;
    return head !== null ? s[3]! : s.slice(2).reduce((a, b) => a * b, 1);
  };
  const widths = hooks.map((h) => widthOf(h, headIndex));
  if (widths.some((w) => w !== widths[0]))
    throw new ConfigError(`modelActivations: hooks of different widths cannot share a batch: ${hooks.map((h, i) => `${h} (${widths[i]})`).join(', ')}`);
  const allHooks = targetHook !== undefined ? [...hooks, targetHook] : hooks;
  const stop = opts.stopAtLayer ?? stopLayerFor(allHooks, model.cfg.nLayers);
  const withTokens = opts.withTokens ?? true;

  const forward = (b: TokenBatch): ActivationBatch => {
    const { n, contextSize: ctx } = b;
    if (b.tokens.length !== n * ctx) throw new ShapeError(`modelActivations: TokenBatch has ${b.tokens.length} tokens, expected n·contextSize = ${n}·${ctx}`);
    const [acts, target] = tf.tidy(() => {
      const tokens = tf.tensor2d(b.tokens, [n, ctx], 'int32');
      const { cache } = model.runWithCache(tokens, { names: allHooks, ...(stop !== undefined ? { stopAtLayer: stop } : {}), returnType: 'none' });
      const rowsOf = (h: string, head: number | null) => {
        const a = cache.get(h);
        if (!a) throw new ShapeError(`modelActivations: the forward pass did not reach '${h}' (stopAtLayer ${stop})`);
        if (head !== null) {
          const [B, P, , D] = a.shape as [number, number, number, number];
          return tf.reshape(tf.slice(a, [0, 0, head, 0], [B, P, 1, D]), [n * ctx, D]);
        }
        return tf.reshape(a, [n * ctx, -1]);
      };
      const rows = hooks.map((h) => rowsOf(h, headIndex));
      const x = rows.length === 1 ? rows[0]! : tf.stack(rows, 1);
      // one forward pass gives both sides: the rows are the same tokens by construction
      return targetHook !== undefined ? [x, rowsOf(targetHook, targetHead)] : [x];
    });
    opts.onForward?.(n);
    const out: ActivationBatch = target !== undefined ? { acts: acts!, hooks, target, targetHook: targetHook! } : { acts: acts!, hooks };
    if (!withTokens) return out;
    const positions = new Int32Array(n * ctx);
    for (let i = 0; i < positions.length; i++) positions[i] = i % ctx;
    return { ...out, tokens: b.tokens.slice(), positions };
  };

  return (source) =>
    new Observable<ActivationBatch>((subscriber) => {
      // subscribeUpstream: an unsubscribe during a synchronous source's emission reaches the
      // source at once (no forward passes after downstream has stopped).
      subscribeUpstream(subscriber, source, {
        next: (b: TokenBatch) => {
          let out: ActivationBatch;
          try {
            out = forward(b);
          } catch (e) {
            // errors of the model (a token id out of range, …) get the stage's name
            subscriber.error(e instanceof SaeRxError && e.message.startsWith('modelActivations') ? e : new StageError('modelActivations', e));
            return;
          }
          emitOrDispose(subscriber, out);
        },
      });
    });
}
