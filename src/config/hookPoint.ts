/**
 * Checks on TransformerLens hook-point names in runner configs. SAELens formats
 * `hook_point.format(layer=hook_point_layer)` per SAE, so `{layer}` is the one placeholder.
 */
import type { ConfigProblem } from './fields.js';
import { pyStr } from './pyFormat.js';

// Dotted segments: identifiers, layer numbers, or the {layer} placeholder.
const HOOK_NAME = /^[A-Za-z_]\w*(\.(\d+|\{layer\}|[A-Za-z_]\w*))*$/;

/**
 * Problems with a hook name. `strict` (for the hook the SAE reads) also asks that the last
 * segment be a `hook_*` name, as every TransformerLens hook point is.
 */
export function hookNameProblems(field: string, name: string, strict: boolean): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const braces = name.match(/\{[^}]*\}/g)?.filter((b) => b !== '{layer}') ?? [];
  if (braces.length > 0) {
    problems.push({
      path: field,
      message: `only the {layer} placeholder may appear in a hook name, got ${braces.join(', ')} in ${JSON.stringify(name)}`,
    });
  } else if (!HOOK_NAME.test(name)) {
    problems.push({
      path: field,
      message: `expected a TransformerLens hook name like "blocks.{layer}.hook_resid_pre", got ${JSON.stringify(name)}`,
    });
  } else if (strict && !/(^|\.)hook_\w+$/.test(name)) {
    problems.push({
      path: field,
      message: `expected a hook name ending in a hook_* point (e.g. "blocks.0.hook_mlp_out"), got ${JSON.stringify(name)}`,
    });
  }
  return problems;
}

/** The layer number a concrete hook name names (`blocks.3.…` → 3), if any. */
export function layerOfHookName(name: string): number | undefined {
  const m = /^blocks\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** A concrete hook point names a layer (`blocks.3.…`) that a given `hook_point_layer` contradicts. */
export function hookLayerMismatch(hookPoint: string, hookPointLayer: number | readonly number[], layerGiven: boolean): ConfigProblem[] {
  const named = layerOfHookName(hookPoint);
  const layers = ([] as number[]).concat(hookPointLayer);
  if (named === undefined || !layerGiven || layers.every((l) => l === named)) return [];
  return [{ path: 'hook_point / hook_point_layer', message: `hook_point ${JSON.stringify(hookPoint)} is in layer ${named} but hook_point_layer is ${pyStr(hookPointLayer)}` }];
}

/** Python's `hook_point.format(layer=L)` for our one placeholder. */
export function formatHookName(name: string, layer: number): string {
  return name.split('{layer}').join(String(layer));
}
