/**
 * `npm run bench -- --compare-torch [--quick] [--filter <substr>] [--rounds N]`: our SAE training
 * step (dense products, and sparse products at a trained-SAE L0) against PyTorch's
 * (scripts/reference/sae_train_timing.py, /usr/bin/python3), timed ALTERNATELY on the same
 * machine: per configuration and round, torch → ours dense → ours sparse, each in its own
 * process (bench/trainStepWorker.ts), so each reports its own peak RSS. Without a Python with
 * torch it times ours alone.
 *
 * Configurations (d_in, d_sae, batch): (512, 4096, 4096), (768, 12288, 4096),
 * (768, 24576, 4096), (2048, 16384, 4096). The sparse run starts from an SAE whose biases give
 * L0 ≈ TARGET_L0 (see trainStepWorker.ts); the dense run uses the same SAE ('never'), so both
 * do the same maths. Load averages (os.loadavg) are recorded next to every measurement: the
 * machine is shared.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { best, loadavg, ok, spawnJson, torchVersion, type Result } from './stats.js';

export const COMPARE_CONFIGS: Array<[number, number, number]> = [
  [512, 4096, 4096],
  [768, 12288, 4096],
  [768, 24576, 4096],
  [2048, 16384, 4096],
];
export const TARGET_L0 = 75;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = '/usr/bin/python3';
const TORCH_SCRIPT = path.join(root, 'scripts', 'reference', 'sae_train_timing.py');

export interface CompareOptions {
  quick?: boolean;
  filter?: string;
  rounds?: number;
  emit?: (line: object) => void;
  log?: (line: string) => void;
}

interface Timed {
  tokensPerSec: number;
  msPerStep: number;
  msPerStepAll: number[];
  maxRssMB: number;
  l0?: number[];
}

function runTorch(c: [number, number, number], warmup: number, steps: number): Result<Timed> {
  return spawnJson(PYTHON, [TORCH_SCRIPT, '--threads', '2', '--shape', c.join(','), '--warmup', String(warmup), '--steps', String(steps), '--no-matmul'], 'torch');
}

function runOurs(c: [number, number, number], mode: 'never' | 'always', warmup: number, steps: number): Result<Timed> {
  const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
  return spawnJson(tsx, [path.join(root, 'bench', 'trainStepWorker.ts'), ...c.map(String), mode, String(warmup), String(steps), String(TARGET_L0)], 'worker', root);
}

const ratio = (a: Result<Timed> | undefined, b: Result<Timed> | undefined) =>
  ok(a) && ok(b) ? +(a.tokensPerSec / b.tokensPerSec).toFixed(2) : null;

export async function benchCompareTorch(opts: CompareOptions = {}): Promise<object[]> {
  const log = opts.log ?? (() => {});
  const torch = torchVersion(PYTHON);
  log(`compare-torch: torch ${torch ?? 'not available (timing ours alone)'}; load average ${loadavg()}`);
  const rounds = opts.rounds ?? 1;
  const out: object[] = [];
  for (const c of COMPARE_CONFIGS) {
    const name = `compareTorch/${c.join('x')}`;
    if (opts.filter !== undefined && !name.includes(opts.filter)) continue;
    const big = c[0] * c[1] > 768 * 12288;
    // Two warm-up steps: torch allocates Adam state on its first optimizer step and is still slow on the second.
    const warmup = 2;
    const steps = opts.quick ? (big ? 1 : 2) : big ? 2 : 4;
    const res: Record<'torch' | 'dense' | 'sparse', Array<Result<Timed>>> = { torch: [], dense: [], sparse: [] };
    const loads: string[] = [];
    for (let r = 0; r < rounds; r++) {
      // Alternate: torch, dense, sparse (then again for the next round).
      loads.push(loadavg());
      if (torch) res.torch.push(runTorch(c, warmup, steps));
      loads.push(loadavg());
      res.dense.push(runOurs(c, 'never', warmup, steps));
      loads.push(loadavg());
      res.sparse.push(runOurs(c, 'always', warmup, steps));
    }
    loads.push(loadavg());
    // Per implementation, the best round (least disturbed by the other tenants).
    const t = best(res.torch), d = best(res.dense), s = best(res.sparse);
    const line = {
      bench: 'compareTorch', name, dIn: c[0], dSae: c[1], batch: c[2], steps, rounds,
      targetL0: TARGET_L0, l0: ok(s) ? s.l0 : undefined,
      oursDenseTokPerSec: ok(d) ? d.tokensPerSec : d, oursSparseTokPerSec: ok(s) ? s.tokensPerSec : s,
      torchTokPerSec: torch ? (ok(t) ? t.tokensPerSec : t) : 'torch not available',
      denseVsTorch: ratio(d, t), sparseVsTorch: ratio(s, t), sparseVsDense: ratio(s, d),
      maxRssMB: { oursDense: ok(d) ? d.maxRssMB : null, oursSparse: ok(s) ? s.maxRssMB : null, torch: ok(t) ? t.maxRssMB : null },
      msPerStepAll: { torch: res.torch.map((x) => (ok(x) ? x.msPerStepAll : x)), dense: res.dense.map((x) => (ok(x) ? x.msPerStepAll : x)), sparse: res.sparse.map((x) => (ok(x) ? x.msPerStepAll : x)) },
      loadavg: loads,
    };
    opts.emit?.(line);
    log(`${name}: dense ${JSON.stringify(line.oursDenseTokPerSec)} tok/s, sparse ${JSON.stringify(line.oursSparseTokPerSec)} (L0 ${ok(s) ? s.l0?.join('/') : '-'}), torch ${JSON.stringify(line.torchTokPerSec)}; load ${loads.join(' | ')}`);
    out.push(line);
  }
  return out;
}
