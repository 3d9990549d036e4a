/** `--dry-run` output: the decoded runner config as SAELens's dict (secrets masked), and the SAEs it trains. */
import { stringify } from 'yaml';
import type { CliContext } from '../context.js';

export function printConfig(ctx: CliContext, kind: string, cfg: Record<string, unknown>, saes: readonly string[]): void {
  ctx.emit(
    { type: 'config', kind, config: cfg, saes },
    [`# ${kind} runner config, decoded (defaults filled in); nothing was run`, stringify({ kind, ...cfg }).trimEnd(), ...(saes.length ? ['# SAEs:', ...saes.map((s) => `#   ${s}`)] : [])].join('\n'),
  );
}
