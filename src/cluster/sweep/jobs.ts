/**
 * A sweep as jobs. The SAEs of a sweep that read the same stream (same hook point) stay
 * together, `saesPerJob` of them per job (default: all), each job trains its SAEs on the
 * stream exactly as the whole sweep would (the runner's `saeIds`), so every SAE equals the one
 * of a single-process run. The store layout, job names and groups: plan.ts.
 *
 * A job taken again after its worker died downloads its newest committed checkpoint and
 * resumes from it (the runner's exact resume: the stream is replayed up to it).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeRunnerConfig } from '../../config/runnerConfig.js';
import { ConfigError } from '../../errors.js';
import type { HubConfig } from '../../hub/config.js';
import { languageModelRunner } from '../../runners/languageModelRunner.js';
import { committedFiles, downloadDir, isCommitted, uploadDir, writeCommitted } from '../../store/commit.js';
import type { Store } from '../../store/Store.js';
import type { TrainEvent } from '../../stream/TrainEvent.js';
import { type SweepJobData, sweepKeys } from './plan.js';

/** Token counts of job k's committed checkpoints, newest first. */
async function committedCheckpoints(store: Store, k: number): Promise<number[]> {
  const root = sweepKeys.ckptRoot(k);
  const tokens = new Set<number>();
  for (const key of await store.list(root)) {
    const m = /^(\d+)\/_COMMITTED$/.exec(key.slice(root.length));
    if (m) tokens.add(Number(m[1]));
  }
  return [...tokens].sort((a, b) => b - a);
}

export interface GroupOutcome {
  readonly group: number;
  readonly saes: number;
  readonly resumedFrom?: number;
  readonly skipped?: boolean;
}

export async function runSweepGroupJob(
  d: SweepJobData,
  o: { store: Store; log: (line: string) => void; hub?: Partial<HubConfig>; onStep?: (step: number) => void },
): Promise<GroupOutcome> {
  const { store, log } = o;
  const k = d.group!;
  const ids = d.saeIds!;
  if (await isCommitted(store, sweepKeys.result(k))) {
    log(`group ${k} already finished; not trained again`);
    return { group: k, saes: ids.length, skipped: true };
  }
  // jobs never log to W&B on their own (one run per job would be noise); records land in the store
  const cfg = decodeRunnerConfig({ ...d.config, log_to_wandb: false }, 'language_model');
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), `sae-rx-job-${k}-`));
  try {
    let resumedFrom: number | undefined;
    for (const tokens of await committedCheckpoints(store, k)) {
      if (await downloadDir(store, sweepKeys.ckpt(k, tokens), runDir)) {
        resumedFrom = tokens;
        log(`resuming group ${k} from its checkpoint at ${tokens} tokens`);
        break;
      }
    }
    if (resumedFrom === undefined) log(`training group ${k}: ${ids.join(', ')}`);
    // checkpoints: when every SAE of the group has one at the same tokens, it goes to the store
    const pending = new Map<number, Set<string>>();
    let uploads: Promise<void> = Promise.resolve();
    let uploadError: unknown;
    const onRecord = (r: TrainEvent) => {
      if (r.type === 'step' && r.saeId === ids[0]) o.onStep?.(r.step);
      if (r.type !== 'checkpoint' || !/\/\d+$/.test(r.path)) return;
      const got = pending.get(r.tokens) ?? new Set<string>();
      got.add(r.saeId);
      pending.set(r.tokens, got);
      if (got.size < ids.length) return;
      pending.delete(r.tokens);
      const tokens = r.tokens;
      uploads = uploads.then(async () => {
        if (uploadError) return;
        try {
          const files = new Map<string, Uint8Array>();
          for (const id of ids) await collect(path.join(runDir, id, String(tokens)), `${id}/${tokens}`, files);
          const rec = path.join(runDir, 'records.jsonl');
          if (fs.existsSync(rec)) files.set('records.jsonl', new Uint8Array(fs.readFileSync(rec)));
          await writeCommitted(store, sweepKeys.ckpt(k, tokens), files);
          log(`group ${k}: checkpoint at ${tokens} tokens committed to the store`);
        } catch (e) {
          uploadError = e;
        }
      });
    };
    const runner = languageModelRunner(cfg, {
      runDir,
      saeIds: ids,
      console: false,
      handleSignals: false,
      resume: resumedFrom !== undefined,
      log: (l) => log(l),
      sinks: [{ next: onRecord }],
      ...(o.hub ? { hub: o.hub } : {}),
    });
    const summary = await runner.run();
    await uploads;
    // losing a checkpoint is never silent: the job fails and is retried (from the previous one)
    if (uploadError) throw uploadError;
    for (const s of summary.saes) {
      if (!s.path) throw new ConfigError(`group ${k}: SAE ${s.saeId} has no final folder`);
      await uploadDir(store, s.path, sweepKeys.sae(s.saeId, path.basename(s.path)));
    }
    const result = new Map<string, Uint8Array>();
    for (const f of ['records.jsonl', 'report.html', 'config.json']) {
      const p = path.join(runDir, f);
      if (fs.existsSync(p)) result.set(f, new Uint8Array(fs.readFileSync(p)));
    }
    await writeCommitted(store, sweepKeys.result(k), result);
    log(`group ${k} finished: ${summary.saes.map((s) => s.saeId).join(', ')}`);
    return { group: k, saes: summary.saes.length, ...(resumedFrom !== undefined ? { resumedFrom } : {}) };
  } finally {
    fs.rmSync(runDir, { recursive: true, force: true });
  }
}

async function collect(dir: string, prefix: string, into: Map<string, Uint8Array>): Promise<void> {
  for (const ent of await fs.promises.readdir(dir, { withFileTypes: true })) {
    if (ent.name.startsWith('.')) continue;
    const p = path.join(dir, ent.name);
    if (ent.isDirectory()) await collect(p, `${prefix}/${ent.name}`, into);
    else into.set(`${prefix}/${ent.name}`, new Uint8Array(await fs.promises.readFile(p)));
  }
}

/** Merges the groups' records into records.jsonl and writes sweep.json (the run's commit marker). */
export async function runSweepFinalizeJob(d: SweepJobData, store: Store): Promise<{ saes: number }> {
  if ((await store.size(sweepKeys.summary)) !== undefined) return { saes: d.groups!.flat().length };
  let records = '';
  const saes: Array<{ saeId: string; path: string }> = [];
  for (let k = 0; k < d.groups!.length; k++) {
    const files = await committedFiles(store, sweepKeys.result(k));
    if (!files) throw new ConfigError(`sweep: group ${k} has no committed result in ${store.url}`);
    if ('records.jsonl' in files) records += new TextDecoder().decode(await store.get(`${sweepKeys.result(k)}/records.jsonl`));
  }
  const keys = await store.list('saes/');
  for (const id of d.groups!.flat()) {
    const finals = keys.filter((key) => key.startsWith(`saes/${id}/`) && key.endsWith('/_COMMITTED'));
    if (finals.length === 0) throw new ConfigError(`sweep: SAE ${id} has no committed final folder in ${store.url}`);
    saes.push({ saeId: id, path: `${store.url}/${finals[0]!.slice(0, -'/_COMMITTED'.length)}` });
  }
  await store.put(sweepKeys.records, records);
  await store.put(sweepKeys.summary, JSON.stringify({ saes }, null, 2) + '\n');
  return { saes: saes.length };
}
