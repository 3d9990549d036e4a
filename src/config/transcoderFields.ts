/**
 * Transcoder fields in runner configs, under SAELens 6's `TranscoderConfig` names: `d_out` (the
 * output width), `hook_name_out` (the hook the output reconstructs, e.g. `blocks.{layer}.hook_mlp_out`),
 * `hook_layer_out` and `hook_head_index_out`. A SAELens 6 runner config has them in its `sae:`
 * block (flattened by saelens6RunnerConfig.ts); a flat config at the top level.
 *
 * They are taken out of the raw config before the runner's own fields are decoded, and kept in
 * the decoded config only for a transcoder architecture, so that an SAE's config (and the
 * cfg.json written from it) is exactly what it was before transcoders. A transcoder without
 * `hook_name_out`, or a transcoder field given with an SAE architecture, is a problem naming the
 * field.
 */
import { NonEmptyStr, NonNegativeInt, PositiveInt, nullable } from './codecs.js';
import { type ConfigProblem, type FieldTable, decodeFields } from './fields.js';
import { formatHookName, hookNameProblems, layerOfHookName } from './hookPoint.js';
import { pyStr } from './pyFormat.js';

export const TRANSCODER_FIELDS: FieldTable = {
  d_out: { codec: nullable(PositiveInt), default: null },
  hook_name_out: { codec: nullable(NonEmptyStr), default: null },
  hook_layer_out: { codec: nullable(NonNegativeInt), default: null },
  hook_head_index_out: { codec: nullable(NonNegativeInt), default: null },
};

/** The transcoder fields of a decoded runner config (present only for transcoder architectures). */
export interface TranscoderRunnerFields {
  /** d_in when not given. */
  d_out: number;
  /** May contain `{layer}`, formatted per SAE with its hook_point_layer as hook_point is. */
  hook_name_out: string;
  /** The layer hook_name_out names (hook_point_layer's when it says `{layer}`), or null for a hook outside the blocks. */
  hook_layer_out: number | null;
  hook_head_index_out: number | null;
}

export interface TranscoderFieldsResult {
  /** The decoded fields for a transcoder (d_out still null when not given: the caller fills d_in); {} for an SAE. */
  readonly values: Record<string, unknown>;
  /** Which of them the config gave. */
  readonly given: ReadonlySet<string>;
  /** The raw object without them. */
  readonly rest: Record<string, unknown>;
  readonly problems: ConfigProblem[];
}

/**
 * Takes the transcoder fields out of `raw` and checks them against the architecture:
 * `transcoder` says whether `architecture` is one (the architecture registry knows);
 * `transcoderNames` lists the transcoder architectures (for the error an SAE config gets).
 */
export function takeTranscoderFields(
  raw: Record<string, unknown>,
  architecture: string,
  transcoder: boolean,
  transcoderNames: readonly string[],
): TranscoderFieldsResult {
  const rest: Record<string, unknown> = { ...raw };
  const own: Record<string, unknown> = {};
  for (const k of Object.keys(TRANSCODER_FIELDS)) {
    if (k in rest) {
      own[k] = rest[k];
      delete rest[k];
    }
  }
  const problems: ConfigProblem[] = [];
  if (!transcoder) {
    for (const [k, v] of Object.entries(own)) {
      if (v === null || v === undefined) continue;
      const which = transcoderNames.length > 0 ? ` (transcoders: ${transcoderNames.join(', ')})` : '';
      problems.push({ path: k, message: `is a transcoder field; architecture '${architecture}' is an SAE, whose output reconstructs its input hook. Remove ${k}, or choose a transcoder architecture${which}` });
    }
    return { values: {}, given: new Set(), rest, problems };
  }
  const decoded = decodeFields(own, TRANSCODER_FIELDS);
  problems.push(...decoded.problems);
  const v = decoded.values;
  if (problems.length === 0) {
    if (v.hook_name_out === null) {
      problems.push({ path: 'hook_name_out', message: `architecture '${architecture}' is a transcoder: give the hook its output reconstructs (e.g. "blocks.0.hook_mlp_out" for an input "blocks.0.ln2.hook_normalized")` });
    } else {
      problems.push(...hookNameProblems('hook_name_out', v.hook_name_out as string, true));
    }
  }
  return { values: v, given: decoded.given, rest, problems };
}

/**
 * Checks and derivations that need the decoded runner fields: `d_out` defaults to `d_in`;
 * `apply_b_dec_to_input` is false (when `runnerGiven`, the runner fields the config gave, is
 * passed: the training runners);
 * `hook_layer_out` is the layer hook_name_out names (or hook_point_layer's, for `{layer}`), and a
 * given one that contradicts it is a problem; a transcoder maps one hook to another, so a sweep
 * over layers needs `{layer}` in hook_name_out too.
 */
export function finishTranscoderFields(v: Record<string, unknown>, given: ReadonlySet<string>, runnerGiven?: ReadonlySet<string>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (v.d_out === null || v.d_out === undefined) v.d_out = v.d_in;
  // b_dec is d_out wide: it cannot be subtracted from the d_in-wide input (SAELens refuses it).
  // The flat config's default (v1.5's true) becomes false; a given true is the user's mistake.
  if (runnerGiven !== undefined && 'apply_b_dec_to_input' in v) {
    if (runnerGiven.has('apply_b_dec_to_input') && v.apply_b_dec_to_input === true)
      problems.push({ path: 'apply_b_dec_to_input', message: 'a transcoder cannot subtract b_dec (d_out wide, in the output space) from its input; set it to false or leave it out' });
    v.apply_b_dec_to_input = false;
  }
  const name = v.hook_name_out as string;
  const layers = ([] as number[]).concat(v.hook_point_layer as number | number[]);
  const templated = name.includes('{layer}');
  if (layers.length > 1) {
    // SAEs that share a stream share both hooks: one input hook, one target hook per stream
    problems.push({ path: 'hook_point_layer', message: `a transcoder sweep cannot span layers (got ${pyStr(v.hook_point_layer)}): the transcoders of one run share the input and the output hook; run one config per layer` });
    return problems;
  }
  const named = templated ? undefined : layerOfHookName(name);
  const given_ = v.hook_layer_out as number | null;
  if (templated) {
    if (given.has('hook_layer_out') && given_ !== null && layers.some((l) => l !== given_)) {
      problems.push({ path: 'hook_layer_out', message: `hook_name_out ${JSON.stringify(name)} takes hook_point_layer ${pyStr(v.hook_point_layer)}, but hook_layer_out is ${given_}` });
    }
    v.hook_layer_out = layers.length === 1 ? layers[0]! : null;
  } else if (named !== undefined) {
    if (given_ !== null && given_ !== named) problems.push({ path: 'hook_name_out / hook_layer_out', message: `hook_name_out ${JSON.stringify(name)} is in layer ${named} but hook_layer_out is ${given_}` });
    v.hook_layer_out = named;
  }
  return problems;
}

/** hook_name_out of one SAE of a sweep (its `{layer}` formatted). */
export function formatHookNameOut(v: Record<string, unknown>, layer: number): void {
  if (typeof v.hook_name_out !== 'string') return;
  const name = formatHookName(v.hook_name_out, layer);
  v.hook_name_out = name;
  const named = layerOfHookName(name);
  if (named !== undefined) v.hook_layer_out = named;
}
