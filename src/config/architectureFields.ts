/**
 * Architecture fields in runner configs. The SAE architectures (src/sae/architectures/, a layer
 * above config/) register their field tables here when their registry loads; the runner-config
 * decoders then accept `architecture` and that architecture's own fields (SAELens 6 names), and
 * reject a field of another architecture naming which architectures have it.
 *
 * A flat (v1.5-style) config gives them at the top level: `architecture: topk`, `k: 32`. Its
 * `l1_coefficient`, `lp_norm` and `l1_warm_up_steps` are the v1.5 runner's (shared by the v1.5
 * `standard` and SAELens 6's `standard_v6`). The v1.5 standard SAE's own fields (ghost grads,
 * decoder normalisation, b_dec init, fine-tuning, …) belong to `standard` only.
 */
import { type ConfigProblem, type FieldTable, closestKey, decodeFields } from './fields.js';

const tables = new Map<string, FieldTable>();
const transcoders = new Set<string>();

/** The v1.5 standard SAE's registry name (the default architecture). */
export const V15_STANDARD = 'standard';

/**
 * Registers an architecture's own fields (the SAE architecture registry calls this once per
 * architecture), and whether it is a transcoder (its config then has the transcoder fields,
 * transcoderFields.ts).
 */
export function registerArchitectureFields(name: string, fields: FieldTable, opts: { readonly transcoder?: boolean } = {}): void {
  tables.set(name, fields);
  if (opts.transcoder) transcoders.add(name);
  else transcoders.delete(name);
}

/** Whether a registered architecture is a transcoder. */
export function isTranscoderArchitecture(name: string): boolean {
  return transcoders.has(name);
}

/** The registered transcoder architectures. */
export function transcoderArchitectureNames(): string[] {
  return [...transcoders];
}

/** Registered architectures and their own fields (the v1.5 standard SAE has none beyond the runner's). */
export function architectureFieldTables(): ReadonlyMap<string, FieldTable> {
  return tables;
}

/**
 * Runner fields that only the v1.5 standard SAE reads, with the other architectures that read
 * them too. Given (not defaulted) with another architecture, they are an error.
 */
export const V15_STANDARD_FIELDS: Readonly<Record<string, readonly string[]>> = {
  activation_fn: [],
  normalize_sae_decoder: [],
  noise_scale: [],
  decoder_orthogonal_init: [],
  decoder_heuristic_init: [],
  init_encoder_as_decoder_transpose: [],
  b_dec_init_method: [],
  use_ghost_grads: [],
  finetuning_method: [],
  finetuning_tokens: [],
  scale_sparsity_penalty_by_decoder_norm: [],
  l1_coefficient: ['standard_v6'],
  lp_norm: ['standard_v6'],
  l1_warm_up_steps: ['standard_v6'],
};

export interface ArchitectureFieldsResult {
  /**
   * `architecture` and the architecture's own decoded fields (defaults filled); empty for the
   * v1.5 standard SAE, so that a v1.5 config decodes (and is saved) exactly as SAELens v1.5's.
   */
  readonly values: Record<string, unknown>;
  /** The raw object without them (for the runner's own decoder). */
  readonly rest: Record<string, unknown>;
  readonly problems: ConfigProblem[];
}

/**
 * Takes `architecture` and the architecture's own fields out of a flat runner config `raw`
 * whose own fields are `base`: decodes them, and reports fields of other architectures (naming
 * which), v1.5-only fields given with another architecture, and an unknown architecture.
 */
export function takeArchitectureFields(raw: Record<string, unknown>, base: FieldTable): ArchitectureFieldsResult {
  const problems: ConfigProblem[] = [];
  const rest: Record<string, unknown> = { ...raw };
  delete rest['architecture'];
  const name = raw['architecture'] ?? V15_STANDARD;
  const known = [V15_STANDARD, ...[...tables.keys()].filter((n) => n !== V15_STANDARD)];
  if (typeof name !== 'string' || !known.includes(name)) {
    const near = typeof name === 'string' ? closestKey(name, known) : undefined;
    problems.push({ path: 'architecture', message: `expected one of ${known.join(' | ')}, got ${JSON.stringify(name)}${near ? ` (did you mean ${near}?)` : ''}` });
    return { values: {}, rest, problems };
  }
  const own: FieldTable = Object.fromEntries(Object.entries(tables.get(name) ?? {}).filter(([k]) => !(k in base)));
  const archRaw: Record<string, unknown> = {};
  for (const key of Object.keys(raw)) {
    if (key === 'architecture' || key in base) continue;
    if (key in own) {
      archRaw[key] = raw[key];
      delete rest[key];
      continue;
    }
    const owners = [...tables.entries()].filter(([n, t]) => n !== name && key in t).map(([n]) => n);
    if (owners.length > 0) {
      problems.push({ path: key, message: `is a field of architecture ${owners.map((o) => `'${o}'`).join(', ')}, not of '${name}'` });
      delete rest[key];
    }
  }
  if (name !== V15_STANDARD) {
    for (const [key, alsoIn] of Object.entries(V15_STANDARD_FIELDS)) {
      if (raw[key] === undefined || alsoIn.includes(name)) continue;
      const owners = [V15_STANDARD, ...alsoIn].map((o) => `'${o}'`).join(', ');
      problems.push({ path: key, message: `is a field of architecture ${owners} (SAELens v1.5's SAE), not of '${name}'` });
    }
  }
  const decoded = decodeFields(archRaw, own);
  problems.push(...decoded.problems);
  return { values: name === V15_STANDARD ? {} : { architecture: name, ...decoded.values }, rest, problems };
}

/** Every architecture field not in `base`, with the architectures that have it (for --help and typo suggestions). */
export function allArchitectureFieldNames(base: FieldTable): string[] {
  const names = new Set<string>();
  for (const t of tables.values()) for (const k of Object.keys(t)) if (!(k in base)) names.add(k);
  return [...names];
}
