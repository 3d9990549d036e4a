/**
 * The pretrained-SAE registry of SAELens (`pretrained_saes.yaml`): release name -> Hub repo,
 * model, loader (`conversion_func`), optional `config_overrides`, and its SAEs
 * `[{id, path, l0?, variance_explained?, neuronpedia?, norm_scaling_factor?}]`.
 *
 * Two layouts load: SAELens v1.5's (releases under a top-level `SAE_LOOKUP:` key) and the
 * current one (releases at the top level). sae-rx ships SAELens's list (data/pretrained_saes.yaml,
 * see its header for where and when it was taken), parsed lazily the first time it is needed;
 * users add their own files (`SAE_RX_PRETRAINED_YAML`, ':'-separated, or `files`), whose
 * releases are added and replace bundled ones of the same name.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { ConfigError, FileFormatError } from '../../errors.js';

export interface PretrainedSaeEntry {
  readonly id: string;
  /** Folder of the SAE inside the release's repo. */
  readonly path: string;
  readonly l0?: number;
  readonly varianceExplained?: number;
  readonly neuronpedia?: string;
  readonly normScalingFactor?: number;
}

export interface PretrainedRelease {
  readonly release: string;
  readonly repoId: string;
  readonly model: string;
  /** The loader SAELens names (`null` = SAELens's own format, the `sae_lens` loader). */
  readonly conversionFunc: string | null;
  readonly links?: Readonly<Record<string, string>>;
  /** Config keys that replace those of the SAE's cfg.json (snake_case, as in the file). */
  readonly configOverrides?: Readonly<Record<string, unknown>>;
  readonly saes: readonly PretrainedSaeEntry[];
  /** The file the release came from. */
  readonly source: string;
}

export interface PretrainedRegistry {
  readonly releases: ReadonlyMap<string, PretrainedRelease>;
  /** Things the parser passed over without failing (unknown keys in an SAE entry), by file. */
  readonly warnings: readonly string[];
}

/** The list shipped with sae-rx (resolved from src/ or dist/: both sit two folders below the root). */
export const BUNDLED_REGISTRY_PATH = fileURLToPath(new URL('../../../data/pretrained_saes.yaml', import.meta.url));

/** Environment variable naming extra registry files (':'-separated), as `files` does. */
export const REGISTRY_ENV = 'SAE_RX_PRETRAINED_YAML';

const RELEASE_KEYS = new Set(['repo_id', 'model', 'conversion_func', 'links', 'config_overrides', 'saes']);
const SAE_KEYS = new Set(['id', 'path', 'l0', 'variance_explained', 'neuronpedia', 'norm_scaling_factor']);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses the text of a registry file (either layout). `source` names it in errors. */
export function parseRegistry(text: string, source: string): PretrainedRegistry {
  let doc: unknown;
  try {
    // the upstream file repeats no anchors but is large: no alias limit worth hitting
    doc = parseYaml(text, { maxAliasCount: -1 });
  } catch (e) {
    throw new FileFormatError(`${source}: not valid YAML (${(e as Error).message})`, { cause: e });
  }
  if (!isObj(doc)) throw new FileFormatError(`${source}: expected a mapping of release names`);
  // v1.5: { SAE_LOOKUP: { release: {...} } }; current: { release: {...} }
  const top = 'SAE_LOOKUP' in doc && Object.keys(doc).length === 1 ? doc['SAE_LOOKUP'] : doc;
  if (!isObj(top)) throw new FileFormatError(`${source}: SAE_LOOKUP must be a mapping of release names`);
  const releases = new Map<string, PretrainedRelease>();
  const warnings: string[] = [];
  for (const [release, raw] of Object.entries(top)) {
    const where = `${source}: release "${release}"`;
    if (!isObj(raw)) throw new FileFormatError(`${where}: expected a mapping with repo_id, model, saes`);
    for (const k of Object.keys(raw)) {
      if (!RELEASE_KEYS.has(k)) throw new FileFormatError(`${where}: unknown key "${k}" (known: ${[...RELEASE_KEYS].join(', ')})`);
    }
    const str = (k: string): string => {
      const v = raw[k];
      if (typeof v !== 'string' || v === '') throw new FileFormatError(`${where}: "${k}" must be a non-empty string, got ${JSON.stringify(v)}`);
      return v;
    };
    const conv = raw['conversion_func'];
    if (conv !== undefined && conv !== null && typeof conv !== 'string') {
      throw new FileFormatError(`${where}: "conversion_func" must be a loader name or null, got ${JSON.stringify(conv)}`);
    }
    const overrides = raw['config_overrides'];
    if (overrides !== undefined && overrides !== null && !isObj(overrides)) {
      throw new FileFormatError(`${where}: "config_overrides" must be a mapping`);
    }
    const links = raw['links'];
    if (links !== undefined && links !== null && !isObj(links)) throw new FileFormatError(`${where}: "links" must be a mapping`);
    const saesRaw = raw['saes'];
    if (!Array.isArray(saesRaw)) throw new FileFormatError(`${where}: "saes" must be a list`);
    const ids = new Set<string>();
    const saes = saesRaw.map((s, i): PretrainedSaeEntry => {
      const w = `${where}, saes[${i}]`;
      if (!isObj(s)) throw new FileFormatError(`${w}: expected a mapping with id and path`);
      // a bare number (`path: 0`) is a folder name to SAELens too (it formats it into a path)
      const asName = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? String(v) : v);
      const id = asName(s['id']);
      const p = asName(s['path']);
      if (typeof id !== 'string' || id === '') throw new FileFormatError(`${w}: "id" must be a non-empty string`);
      if (typeof p !== 'string' || p === '') throw new FileFormatError(`${w} (${id}): "path" must be a non-empty string`);
      if (ids.has(id)) throw new FileFormatError(`${w}: SAE id "${id}" appears twice in the release`);
      ids.add(id);
      const extra = Object.keys(s).filter((k) => !SAE_KEYS.has(k));
      // SAELens reads only the known keys; a YAML slip upstream (a release nested in an SAE
      // list, v6.18.0) must not make the whole list unreadable: say so instead.
      if (extra.length) warnings.push(`${w} (${id}): ignored keys ${extra.join(', ')}`);
      const num = (k: string): number | undefined => {
        const v = s[k];
        if (v === undefined || v === null) return undefined;
        if (typeof v !== 'number' || !Number.isFinite(v)) throw new FileFormatError(`${w} (${id}): "${k}" must be a number, got ${JSON.stringify(v)}`);
        return v;
      };
      const np = s['neuronpedia'];
      if (np !== undefined && np !== null && typeof np !== 'string') throw new FileFormatError(`${w} (${id}): "neuronpedia" must be a string`);
      const e: { -readonly [K in keyof PretrainedSaeEntry]: PretrainedSaeEntry[K] } = { id, path: p };
      const l0 = num('l0');
      const ve = num('variance_explained');
      const nsf = num('norm_scaling_factor');
      if (l0 !== undefined) e.l0 = l0;
      if (ve !== undefined) e.varianceExplained = ve;
      if (typeof np === 'string') e.neuronpedia = np;
      if (nsf !== undefined) e.normScalingFactor = nsf;
      return e;
    });
    releases.set(release, {
      release,
      repoId: str('repo_id'),
      model: str('model'),
      conversionFunc: typeof conv === 'string' ? conv : null,
      ...(isObj(links) ? { links: links as Record<string, string> } : {}),
      ...(isObj(overrides) ? { configOverrides: overrides } : {}),
      saes,
      source,
    });
  }
  return { releases, warnings };
}

export function readRegistryFile(file: string): PretrainedRegistry {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new FileFormatError(`pretrained SAE registry ${file}: cannot read (${(e as Error).message})`, { cause: e });
  }
  return parseRegistry(text, file);
}

let bundled: PretrainedRegistry | undefined;

/** The shipped list, parsed once on first use. */
export function bundledRegistry(): PretrainedRegistry {
  bundled ??= readRegistryFile(BUNDLED_REGISTRY_PATH);
  return bundled;
}

export interface RegistryOptions {
  /** Extra registry files, after those of `env[SAE_RX_PRETRAINED_YAML]`; later files win. */
  readonly files?: readonly string[];
  /** Leave the shipped list out. */
  readonly noBundled?: boolean;
  readonly env?: NodeJS.ProcessEnv;
}

/** The shipped list plus the user's files (from the environment and `files`), merged. */
export function pretrainedRegistry(opts: RegistryOptions = {}): PretrainedRegistry {
  const env = opts.env ?? process.env;
  const fromEnv = (env[REGISTRY_ENV] ?? '').split(':').filter((f) => f !== '');
  const files = [...fromEnv, ...(opts.files ?? [])];
  if (files.length === 0 && !opts.noBundled) return bundledRegistry();
  const parts = [...(opts.noBundled ? [] : [bundledRegistry()]), ...files.map(readRegistryFile)];
  const releases = new Map<string, PretrainedRelease>();
  for (const p of parts) for (const [k, v] of p.releases) releases.set(k, v);
  return { releases, warnings: parts.flatMap((p) => p.warnings) };
}

/** The release, or a clear error (suggesting close names). */
export function findRelease(reg: PretrainedRegistry, release: string): PretrainedRelease {
  const r = reg.releases.get(release);
  if (r) return r;
  const close = [...reg.releases.keys()].filter((k) => k.includes(release) || release.includes(k)).slice(0, 5);
  throw new ConfigError(
    `no pretrained SAE release "${release}" in the registry (${reg.releases.size} releases; 'sae-rx pretrained' lists them)` +
      (close.length ? `; close: ${close.join(', ')}` : ''),
  );
}

/** The SAE entry of a release, or SAELens's error listing (the first 5) valid ids. */
export function findSae(r: PretrainedRelease, saeId: string): PretrainedSaeEntry {
  const e = r.saes.find((s) => s.id === saeId);
  if (e) return e;
  const ids = r.saes.map((s) => s.id);
  throw new ConfigError(`ID ${saeId} not found in release ${r.release}. Valid IDs are ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? `, ... (${ids.length} in all)` : ''}`);
}
