/**
 * What a distributed sweep's coordinator and its jobs share, without the runner (the
 * coordinator loads no backend): job names and data, how the sweep splits into jobs, and the
 * store layout. The layout under the run's store:
 *
 *   config.json                         the sweep's config (snake_case)
 *   jobs/<k>/ckpt/<tokens>/             a committed checkpoint of job k: <saeId>/… + records.jsonl
 *   jobs/<k>/result/                    job k's records.jsonl, report.html (committed: the job is done)
 *   saes/<saeId>/final_<tokens>/        each final SAE (SAELens layout, committed)
 *   records.jsonl, sweep.json           written by the finalize job (the flow's parent)
 */
import { ConfigError } from '../../errors.js';
import type { SingleLanguageModelSaeRunnerConfig } from '../../config/sweep.js';

export const SWEEP_JOB = { group: 'sweep-group', finalize: 'sweep-finalize' } as const;

export interface SweepJobData {
  readonly runId: string;
  readonly store: string;
  /** The encoded runner config of the whole sweep. */
  readonly config: Record<string, unknown>;
  /** The group's index (store keys) and its SAEs; absent on the finalize job. */
  readonly group?: number;
  readonly saeIds?: readonly string[];
  /** Every group (the finalize job merges them). */
  readonly groups?: readonly (readonly string[])[];
}

/** Groups of SAE ids: by hook point (one stream each), then `perJob` at a time. */
export function sweepGroups(singles: readonly SingleLanguageModelSaeRunnerConfig[], perJob?: number): string[][] {
  if (perJob !== undefined && !(Number.isInteger(perJob) && perJob > 0)) throw new ConfigError(`--saes-per-job must be a positive integer, got ${perJob}`);
  const byStream = new Map<string, string[]>();
  for (const s of singles) {
    const k = s.hook_point;
    if (!byStream.has(k)) byStream.set(k, []);
    byStream.get(k)!.push(s.sae_id);
  }
  const out: string[][] = [];
  for (const ids of byStream.values()) for (let i = 0; i < ids.length; i += perJob ?? ids.length) out.push(ids.slice(i, i + (perJob ?? ids.length)));
  return out;
}

export const sweepKeys = {
  config: 'config.json',
  ckptRoot: (k: number) => `jobs/${k}/ckpt/`,
  ckpt: (k: number, tokens: number) => `jobs/${k}/ckpt/${tokens}`,
  result: (k: number) => `jobs/${k}/result`,
  sae: (saeId: string, final: string) => `saes/${saeId}/${final}`,
  records: 'records.jsonl',
  summary: 'sweep.json',
} as const;
