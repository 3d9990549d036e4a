/**
 * Activation generation and the full forward, ours against PyTorch, for
 * `npm run bench -- --compare-torch [--quick] [--filter <substr>] [--rounds N]`:
 * per case (`compareModelForward/<model name>/<activations|logits>`) and round, torch
 * (scripts/reference/model_forward_timing.py, 2 threads, the same weights: the tiny GPT-2 read
 * from safetensors, the GPT-2-small-shaped model random on both sides) then ours
 * (bench/modelForward.ts), each in its own process so each reports its own peak RSS. The
 * 'activations' variant stops after the hook (ours: runWithCache(tokens, { names: [hook] })).
 * `--filter` matches the case names case-insensitively (`--filter model` keeps them all).
 * The best round per implementation is kept; load averages are recorded next to each run.
 */
import * as fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MODEL_NAME, type ForwardModel, type ForwardVariant } from './modelForward.js';
import { best, loadavg, ok, spawnJson, torchVersion, type Result } from './stats.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = '/usr/bin/python3';
const SCRIPT = path.join(root, 'scripts', 'reference', 'model_forward_timing.py');
const TINY = path.resolve(root, '..', 'shared', 'models', 'tiny-gpt2-sotu', 'model.safetensors');

interface Timed {
  tokensPerSec: number;
  msPerForward: number;
  msPerForwardAll: number[];
  maxRssMB: number;
}

export async function benchCompareModelForward(opts: {
  quick?: boolean; filter?: string; rounds?: number; emit?: (l: object) => void; log?: (l: string) => void;
} = {}): Promise<object[]> {
  const log = opts.log ?? (() => {});
  const cases: Array<[ForwardModel, ForwardVariant]> = [['tiny', 'activations'], ['tiny', 'logits'], ['small', 'activations'], ['small', 'logits']];
  const todo = cases.filter(([m, v]) => opts.filter === undefined || `compareModelForward/${MODEL_NAME[m]}/${v}`.toLowerCase().includes(opts.filter.toLowerCase()));
  if (todo.length === 0) return [];
  const torch = torchVersion(PYTHON);
  log(`compare-model-forward: torch ${torch ?? 'not available (timing ours alone)'}; load average ${loadavg()}`);
  const out: object[] = [];
  for (const [m, v] of todo) {
    const name = `compareModelForward/${MODEL_NAME[m]}/${v}`;
    if (m === 'tiny' && !fs.existsSync(TINY)) {
      const line = { bench: 'compareModelForward', name, skipped: `${TINY} is absent` };
      opts.emit?.(line);
      out.push(line);
      continue;
    }
    // The tiny model's pass takes ~10 ms: 30 timed passes (both sides) so that the median is
    // a steady-state one (V8 is still optimizing the JS side after ten).
    const iters = m === 'tiny' ? (opts.quick ? 5 : 30) : opts.quick ? 2 : 3;
    const res: { torch: Result<Timed>[]; ours: Result<Timed>[] } = { torch: [], ours: [] };
    const loads: string[] = [];
    for (let r = 0; r < (opts.rounds ?? 1); r++) {
      loads.push(loadavg());
      if (torch) res.torch.push(spawnJson(PYTHON, [SCRIPT, '--threads', '2', '--model', m, '--variant', v, '--iters', String(iters)], 'torch', root));
      loads.push(loadavg());
      res.ours.push(spawnJson(path.join(root, 'node_modules', '.bin', 'tsx'),
        [path.join(root, 'bench', 'modelForward.ts'), '--model', m, '--variant', v, '--iters', String(iters)], 'sae-rx', root));
    }
    loads.push(loadavg());
    const t = best(res.torch), o = best(res.ours);
    const line = {
      bench: 'compareModelForward', name, model: MODEL_NAME[m], variant: v, iters, rounds: opts.rounds ?? 1,
      oursTokPerSec: ok(o) ? o.tokensPerSec : o, torchTokPerSec: torch ? (ok(t) ? t.tokensPerSec : t) : 'torch not available',
      oursVsTorch: ok(o) && ok(t) ? +(o.tokensPerSec / t.tokensPerSec).toFixed(2) : null,
      maxRssMB: { ours: ok(o) ? o.maxRssMB : null, torch: ok(t) ? t.maxRssMB : null },
      msPerForwardAll: { ours: res.ours.map((x) => (ok(x) ? x.msPerForwardAll : x)), torch: res.torch.map((x) => (ok(x) ? x.msPerForwardAll : x)) },
      loadavg: loads,
    };
    opts.emit?.(line);
    log(`${name}: ours ${JSON.stringify(line.oursTokPerSec)} tok/s, torch ${JSON.stringify(line.torchTokPerSec)}, ratio ${line.oursVsTorch}; load ${loads.join(' | ')}`);
    out.push(line);
  }
  return out;
}
