/**
 * `npm run bench [-- --filter <substr>] [-- --quick]`: JSON lines on stdout. First a line
 * with the backend and matMul kernel in use, then matMul GFLOP/s (bench/matmul.ts), then the
 * SAE training step (bench/trainStep.ts, when present), the model forward (bench/modelForward.ts:
 * activation generation and logits, tiny GPT-2 and a random GPT-2-small) and the toy pipeline
 * (bench/toyRun.ts), and memory over 1,000 SAE steps (bench/stepMemory.ts). `--filter` matches case names (`modelForward/...`, `toyRun`, ...).
 * Logs go to stderr.
 * `--compare-torch [--rounds N]` runs only the PyTorch comparisons: bench/compareTorch.ts (SAE
 * training step, ours dense/sparse) and bench/compareModelForward.ts (activation generation and
 * full forward) and bench/compareTorchTopK.ts (the TopK-family step, ours sparse vs SAELens 6-style
 * torch); `--filter model` keeps only the model forward, `--filter topk` only the TopK step;
 * `--steps N` sets the timed steps per TopK process (default 2).
 * `--browser [--backend NAME[,NAME]]` runs only the browser bench (bench/browser.ts): the SAE step
 * and the tiny GPT-2 forward in headless Chromium on webgpu, webgl, wasm and cpu.
 */
import os from 'node:os';
import { backendInfo, blasStatus, selectBackend } from '../src/backend/index.js';
import { benchMatMul } from './matmul.js';

interface BenchArgs { filter?: string; quick: boolean; compareTorch: boolean; browser: boolean; backends: string[]; rounds: number; steps?: number }

function parseArgs(argv: string[]): BenchArgs {
  let filter: string | undefined;
  let quick = false;
  let compareTorch = false;
  let browser = false;
  const backends: string[] = [];
  let rounds = 1;
  let steps: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') quick = true;
    else if (a === '--compare-torch') compareTorch = true;
    else if (a === '--browser') browser = true;
    else if (a === '--backend') {
      const v = argv[++i];
      if (v === undefined) throw new Error('bench: --backend needs a value (webgpu, webgl, wasm, cpu; comma-separated for several)');
      backends.push(v);
    }    else if (a === '--rounds') {
      rounds = Number(argv[++i]);
      if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error('bench: --rounds needs an integer >= 1');
    }
    else if (a === '--steps') {
      steps = Number(argv[++i]);
      if (!(Number.isInteger(steps) && steps >= 1)) throw new Error('bench: --steps needs an integer >= 1');
    } else if (a === '--filter') {
      filter = argv[++i];
      if (filter === undefined) throw new Error('bench: --filter needs a value');
    } else if (a.startsWith('--filter=')) filter = a.slice('--filter='.length);
    else throw new Error(`bench: unknown argument '${a}' (expected --filter <substr>, --quick, --compare-torch, --browser, --backend NAME, --rounds N, --steps N)`);
  }
  if (backends.length && !browser) throw new Error('bench: --backend chooses browser backends; it needs --browser');
  if (browser && compareTorch) throw new Error('bench: --browser and --compare-torch are separate runs; give one');
  const base = { quick, compareTorch, browser, backends, rounds, ...(steps !== undefined ? { steps } : {}) };
  return filter === undefined ? base : { filter, ...base };
}

const print = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.browser) {
    // Only the browser bench (bench/browser.ts): Node's own backend is not used.
    const { benchBrowser } = await import('./browser.js');
    await benchBrowser({ quick: opts.quick, backends: opts.backends, ...(opts.filter !== undefined ? { filter: opts.filter } : {}), emit: print });
    return;
  }
  await selectBackend({ log: (l) => console.error(l) });
  const info = backendInfo();
  print({
    bench: 'info', backend: info.backend, kernels: info.kernels, wasm: info.wasm, blas: blasStatus(),
    node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, quick: opts.quick,
    ...(opts.filter !== undefined ? { filter: opts.filter } : {}),
  });
  if (opts.compareTorch) {
    // Only the PyTorch comparison (bench/compareTorch.ts): it alone takes minutes.
    // `--filter topk` keeps only the TopK-family comparison (bench/compareTorchTopK.ts).
    const topkOnly = opts.filter !== undefined && opts.filter.toLowerCase().includes('topk');
    if (!topkOnly) {
      const { benchCompareTorch } = await import('./compareTorch.js');
      await benchCompareTorch({ ...opts, emit: print, log: (l) => console.error(l) });
      const { benchCompareModelForward } = await import('./compareModelForward.js');
      await benchCompareModelForward({ ...opts, emit: print, log: (l) => console.error(l) });
    }
    if (opts.filter === undefined || topkOnly) {
      const { benchCompareTorchTopK } = await import('./compareTorchTopK.js');
      await benchCompareTorchTopK({ ...opts, emit: print, log: (l) => console.error(l) });
    }
    return;
  }
  await benchMatMul({ ...opts, emit: print });

  await runTrainStep(opts);
  // A filter selects a bench by its prefix ('model', 'toyRun') or one of its cases.
  const wants = (prefix: string) => {
    const f = opts.filter?.toLowerCase();
    return f === undefined || prefix.toLowerCase().includes(f) || f.startsWith(prefix.toLowerCase());
  };
  if (wants('modelForward')) {
    const { benchModelForward } = await import('./modelForward.js');
    const f = opts.filter !== undefined && opts.filter.startsWith('modelForward') ? { filter: opts.filter } : {};
    for (const line of await benchModelForward({ quick: opts.quick, ...f })) print(line);
  }
  if (wants('archStep')) {
    const { benchArchStep } = await import('./archStep.js');
    const f = opts.filter !== undefined && opts.filter.startsWith('archStep') ? { filter: opts.filter } : {};
    for (const line of await benchArchStep({ quick: opts.quick, ...f })) print(line);
  }
  if (wants('stepMemory')) {
    const { benchStepMemory } = await import('./stepMemory.js');
    print(await benchStepMemory({ quick: opts.quick }));
  }
  if (wants('topkStepMemory')) {
    const { benchTopKStepMemory } = await import('./topkStepMemory.js');
    print(await benchTopKStepMemory({ quick: opts.quick }));
  }
  if (wants('tokenize')) {
    const { benchTokenize } = await import('./tokenize.js');
    for (const line of await benchTokenize({ quick: opts.quick })) print(line);
  }
  if (wants('toyRun')) {
    const { benchToyRun } = await import('./toyRun.js');
    for (const line of await benchToyRun({ quick: opts.quick })) print(line);
  }
}

async function runTrainStep(opts: { filter?: string; quick: boolean }): Promise<void> {
  if (opts.filter !== undefined && !'trainStep'.includes(opts.filter) && !opts.filter.startsWith('trainStep')) return;
  // Written in parallel by the SAE area; a variable specifier keeps tsc from requiring it.
  const spec = './trainStep.js';
  let mod: { benchTrainStep?: (o?: object) => Promise<object[]> };
  try {
    mod = (await import(spec)) as typeof mod;
  } catch (e) {
    print({ bench: 'trainStep', skipped: `bench/trainStep.ts not loadable (${e instanceof Error ? e.message.split('\n')[0] : String(e)})` });
    return;
  }
  if (typeof mod.benchTrainStep !== 'function') {
    print({ bench: 'trainStep', skipped: 'bench/trainStep.ts exports no benchTrainStep()' });
    return;
  }
  for (const line of await mod.benchTrainStep(opts)) print(line);
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
