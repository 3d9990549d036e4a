/**
 * `npm run bench -- --compare-torch [--filter topk] [--quick] [--rounds N]`: our TopK-family
 * training step (bench/topkStepWorker.ts: the sparse step of src/sae/topkSparse.ts) against
 * PyTorch running it the way SAELens 6 does (scripts/reference/topk_train_timing.py: dense
 * autograd, AuxK, clip_grad_norm 1.0, Adam), on the same batches (a seeded file both read),
 * each in its own process (own peak RSS), alternated per round (torch, then ours), best round
 * kept, load averages recorded next to every run (the machine is shared).
 *
 * Cases (d_in, d_sae, batch, k): (768, 24576, 4096, 32) and (2048, 16384, 4096, 64), TopK
 * against torch; BatchTopK (ours) at the same shapes, reported against our TopK (the bar:
 * within 10 %). `TOPK_DEAD_FRAC=0.1` starts with 10 % of the latents dead (AuxK active) on
 * both sides.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { best, loadavg, ok, spawnJson, torchVersion, type Result } from './stats.js';

export const TOPK_CONFIGS: Array<[number, number, number, number]> = [
  [768, 24576, 4096, 32],
  [2048, 16384, 4096, 64],
];

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = '/usr/bin/python3';
const TORCH_SCRIPT = path.join(root, 'scripts', 'reference', 'topk_train_timing.py');

interface Timed {
  tokensPerSec: number;
  msPerStep: number;
  msPerStepAll: number[];
  maxRssMB: number;
  l0?: number[];
}

export interface CompareTopKOptions {
  quick?: boolean;
  filter?: string;
  rounds?: number;
  /** Timed steps per process after one warm-up step (default 2; --quick 1). */
  steps?: number;
  emit?: (line: object) => void;
  log?: (line: string) => void;
}

/** Two seeded N(0, 1) batches [2·batch, dIn] as float32 little-endian, written to `file`. */
function writeBatches(file: string, batch: number, dIn: number): void {
  const x = tf.randomNormal([2 * batch, dIn], 0, 1, 'float32', 3);
  const d = x.dataSync() as Float32Array;
  writeFileSync(file, Buffer.from(d.buffer, d.byteOffset, d.byteLength));
  x.dispose();
}

export async function benchCompareTorchTopK(opts: CompareTopKOptions = {}): Promise<object[]> {
  const log = opts.log ?? (() => {});
  const torch = torchVersion(PYTHON);
  const deadFrac = Number(process.env['TOPK_DEAD_FRAC'] ?? 0);
  log(`compare-torch topk: torch ${torch ?? 'not available (timing ours alone)'}; load average ${loadavg()}`);
  const rounds = opts.rounds ?? 1;
  const warmup = 1, steps = opts.steps ?? (opts.quick ? 1 : 2);
  const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sae-rx-topk-bench-'));
  const out: object[] = [];
  try {
    for (const [dIn, dSae, batch, k] of TOPK_CONFIGS) {
      const name = `compareTorchTopK/${dIn}x${dSae}x${batch}/k${k}`;
      if (opts.filter !== undefined && !name.toLowerCase().includes(opts.filter.toLowerCase()) && !'topk'.includes(opts.filter.toLowerCase())) continue;
      const file = path.join(dir, `x_${dIn}_${batch}.bin`);
      writeBatches(file, batch, dIn);
      const ours = (sel: 'topk' | 'batchtopk'): Result<Timed> => spawnJson(tsx, [path.join(root, 'bench', 'topkStepWorker.ts'),
        String(dIn), String(dSae), String(batch), String(k), sel, String(warmup), String(steps), file, String(deadFrac)], `ours ${sel}`, root);
      const res: Record<'torch' | 'topk' | 'batchtopk', Array<Result<Timed>>> = { torch: [], topk: [], batchtopk: [] };
      const loads: Record<string, string[]> = { torch: [], topk: [], batchtopk: [] };
      for (let r = 0; r < rounds; r++) {
        // Alternate: torch, ours TopK, ours BatchTopK (then again for the next round).
        if (torch) {
          loads['torch']!.push(loadavg());
          res.torch.push(spawnJson(PYTHON, [TORCH_SCRIPT, '--threads', '2', '--shape', `${dIn},${dSae},${batch}`, '--k', String(k),
            '--arch', 'topk', '--data', file, '--warmup', String(warmup), '--steps', String(steps), '--dead-frac', String(deadFrac)], 'torch'));
        }
        loads['topk']!.push(loadavg());
        res.topk.push(ours('topk'));
        loads['batchtopk']!.push(loadavg());
        res.batchtopk.push(ours('batchtopk'));
      }
      const t = best(res.torch), s = best(res.topk), b = best(res.batchtopk);
      const ratio = (a: Result<Timed> | undefined, c: Result<Timed> | undefined) => (ok(a) && ok(c) ? +(a.tokensPerSec / c.tokensPerSec).toFixed(2) : null);
      const line = {
        bench: 'compareTorchTopK', name, dIn, dSae, batch, k, deadFrac, warmup, steps, rounds,
        oursTopKTokPerSec: ok(s) ? s.tokensPerSec : s, oursBatchTopKTokPerSec: ok(b) ? b.tokensPerSec : b,
        torchTopKTokPerSec: torch ? (ok(t) ? t.tokensPerSec : t) : 'torch not available',
        topkVsTorch: ratio(s, t), batchTopKVsTopK: ratio(b, s),
        maxRssMB: { oursTopK: ok(s) ? s.maxRssMB : null, oursBatchTopK: ok(b) ? b.maxRssMB : null, torch: ok(t) ? t.maxRssMB : null },
        l0: { oursTopK: ok(s) ? s.l0 : null, oursBatchTopK: ok(b) ? b.l0 : null, torch: ok(t) ? t.l0 : null },
        msPerStepAll: Object.fromEntries(Object.entries(res).map(([kk, v]) => [kk, v.map((x) => (ok(x) ? x.msPerStepAll : x))])),
        loadavg: loads,
      };
      opts.emit?.(line);
      log(`${name}: ours topk ${JSON.stringify(line.oursTopKTokPerSec)} tok/s, batchtopk ${JSON.stringify(line.oursBatchTopKTokPerSec)}, torch ${JSON.stringify(line.torchTopKTokPerSec)} (×${line.topkVsTorch}); load ${JSON.stringify(loads)}`);
      out.push(line);
      rmSync(file, { force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
