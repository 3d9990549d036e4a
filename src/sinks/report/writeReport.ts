/**
 * `writeReport(runDir)`: the report of a finished (or running, or crashed) run, rebuilt from
 * what the run left on disk: `records.jsonl` (one record per line), `config.json` if present,
 * and `sparsity.safetensors` of the SAE folders. Writes `report.html` in the run folder.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { FileFormatError } from '../../errors.js';
import { writeFileAtomic } from '../../io/atomicWrite.js';
import { loadSaeSparsity, SPARSITY_PATH } from '../../sae/saeFolder.js';
import type { TrainEvent, WarningRecord } from '../../stream/TrainEvent.js';
import { renderReport } from './renderReport.js';

export interface WriteReportOptions {
  /** Output file (default `<runDir>/report.html`). */
  readonly out?: string;
  readonly title?: string;
}

/** Reads a JSONL file of records. Lines that are not JSON objects (e.g. the half line a crash left) become warnings. */
export async function readRecords(file: string): Promise<TrainEvent[]> {
  const out: TrainEvent[] = [];
  let stream;
  try {
    await fsp.access(file);
    stream = createReadStream(file, { encoding: 'utf8' });
  } catch (e) {
    throw new FileFormatError(`report: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { cause: e });
  }
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line.trim() === '') continue;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch {
      rec = undefined;
    }
    if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) {
      const w: WarningRecord = { type: 'warning', saeId: '', step: NaN, tokens: NaN, message: `${path.basename(file)} line ${n}: not a JSON record, skipped` };
      out.push(w);
      continue;
    }
    out.push(rec as TrainEvent);
  }
  return out;
}

async function exists(p: string): Promise<boolean> {
  return fsp.access(p).then(() => true, () => false);
}

/** Every `sparsity.safetensors` (SPARSITY_PATH) under `dir`, at most `depth` folders down. */
async function findSparsityFiles(dir: string, depth: number): Promise<string[]> {
  const out: string[] = [];
  let entries;
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isFile() && e.name === SPARSITY_PATH) out.push(p);
    else if (e.isDirectory() && depth > 0 && !e.name.startsWith('.')) out.push(...(await findSparsityFiles(p, depth - 1)));
  }
  return out;
}

/**
 * Writes the report of the run in `runDir`; returns the path written.
 * @throws FileFormatError when `records.jsonl` is missing or config.json is not JSON.
 */
export async function writeReport(runDir: string, options: WriteReportOptions = {}): Promise<string> {
  const records = await readRecords(path.join(runDir, 'records.jsonl'));
  let config: unknown;
  const cfgPath = path.join(runDir, 'config.json');
  if (await exists(cfgPath)) {
    const text = await fsp.readFile(cfgPath, 'utf8');
    try {
      config = JSON.parse(text);
    } catch (e) {
      throw new FileFormatError(`report: ${cfgPath} is not valid JSON (${(e as Error).message})`, { cause: e });
    }
  }

  const saeIds = [...new Set(records.filter((r) => r.type === 'step').map((r) => r.saeId))];
  const density: Record<string, Float32Array> = {};
  const failed: string[] = [];
  const load = async (id: string, file: string) => {
    try {
      const sparsity = await loadSaeSparsity(path.dirname(file));
      if (sparsity) density[id] = sparsity;
    } catch (e) {
      failed.push(`${file}: ${(e as Error).message}`);
    }
  };
  // 1. the final SAE folders named by `done` records
  for (const r of records) {
    if (r.type !== 'done' || !r.path) continue;
    await load(r.saeId, path.join(path.resolve(runDir, r.path), SPARSITY_PATH));
  }
  // 2. otherwise any SAE folder in the run dir; the newest file wins per SAE
  if (Object.keys(density).length === 0) {
    const files = await findSparsityFiles(runDir, 3);
    const stats = await Promise.all(files.map(async (f) => ({ f, mtime: (await fsp.stat(f)).mtimeMs })));
    stats.sort((a, b) => a.mtime - b.mtime);
    const chosen = new Map<string, string>();
    for (const { f } of stats) {
      const rel = path.relative(runDir, path.dirname(f)) || '.';
      const segs = rel.split(path.sep);
      const id = saeIds.find((s) => segs.includes(s)) ?? (saeIds.length === 1 ? saeIds[0]! : rel);
      chosen.set(id, f);
    }
    for (const [id, f] of chosen) await load(id, f);
  }
  const all: TrainEvent[] = failed.length
    ? [...records, ...failed.map((m): WarningRecord => ({ type: 'warning', saeId: '', step: NaN, tokens: NaN, message: `report: sparsity not read: ${m}` }))]
    : records;

  const html = renderReport({
    records: all,
    ...(config !== undefined ? { config } : {}),
    ...(Object.keys(density).length ? { featureLogDensity: density } : {}),
    title: options.title ?? `sae-rx report: ${path.basename(path.resolve(runDir))}`,
  });
  const out = options.out ?? path.join(runDir, 'report.html');
  await writeFileAtomic(out, html);
  return out;
}
