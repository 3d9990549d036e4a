/**
 * `npm run bench -- --browser` as a user runs it (bench/index.ts in a child process), at its
 * `--quick` sizes on one backend (wasm: no shaders to compile, so seconds): its stdout is JSON
 * lines, an info line and then one line per case with the bench's usual fields (name, backend,
 * shapes, timings, tokens/s, load averages). The other backends run the same page code; timing
 * them here would cost minutes on SwiftShader.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { HAVE_TINY_GPT2 } from '../helpers/tinyGpt2.js';
import { browserSkipReason } from '../helpers/browser.js';
import { titled } from '../helpers/skip.js';

const skip = await browserSkipReason();

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'bench/index.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const isLoad = (s: unknown) => typeof s === 'string' && /^\d+\.\d\d \d+\.\d\d \d+\.\d\d$/.test(s);

(skip ? test.skip : test)(titled('bench --browser --quick --backend wasm prints well-formed JSON lines', skip), async (t) => {
  const r = await runBench(['--browser', '--quick', '--backend', 'wasm']);
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
  const [info, ...cases] = lines;
  t.like(info, { bench: 'info', mode: 'browser', quick: true, backends: ['wasm'] });
  t.true(isLoad(info!['loadavg']));
  t.regex(String(info!['chromium']), /^\d+\./);

  const steps = cases.filter((l) => l['bench'] === 'browserTrainStep');
  t.deepEqual(steps.map((l) => l['name']), ['browserTrainStep/wasm/sync/32x128x64', 'browserTrainStep/wasm/async/32x128x64']);
  for (const step of steps) {
    t.like(step, { backend: 'wasm', dIn: 32, dSae: 128, batch: 64, steps: 2, leakedTensors: 0 });
    t.deepEqual(step['preference'], ['webgpu', 'webgl', 'wasm', 'cpu'], 'the page\'s backend order');
    // the bench's server makes the page cross-origin isolated, so wasm runs its threaded binary
    t.deepEqual(step['wasm'], { simd: true, threads: true });
    t.is(step['msPerStepAll'].length, 2);
    t.true(step['msPerStep'] > 0 && Number.isFinite(step['tokensPerSec']) && step['tokensPerSec'] > 0);
    t.true(Math.abs(step['tokensPerSec'] - (64 * 1000) / step['msPerStep']) <= 0.01 * step['tokensPerSec'] + 1, 'tokens/s = batch / time per step');
    t.true(Number.isFinite(step['mse']));
    t.true(step['loadavg'].length === 2 && step['loadavg'].every(isLoad));
  }
  // the same seeded SAE and batch: both ways of reading compute the same step
  t.is(steps[0]!['mse'], steps[1]!['mse']);

  const fwd = cases.filter((l) => l['bench'] === 'browserModelForward');
  t.deepEqual(fwd.map((l) => l['name']), ['browserModelForward/wasm/tiny/activations', 'browserModelForward/wasm/tiny/logits']);
  for (const l of fwd) {
    if (!HAVE_TINY_GPT2) {
      t.regex(l['skipped'], /absent/);
      continue;
    }
    t.like(l, { backend: 'wasm', model: 'tiny-gpt2-sotu', batch: 1, pos: 16, iters: 2, leakedTensors: 0 });
    t.true(l['msPerForward'] > 0 && l['tokensPerSec'] > 0 && l['modelLoadMs'] > 0);
    t.true(l['loadavg'].every(isLoad));
  }
  t.is(cases.length, 4, 'one line per case, nothing else on stdout');
});

test('bench --backend names a browser backend and needs --browser', async (t) => {
  const bad = await runBench(['--browser', '--backend', 'webgl2']);
  t.not(bad.code, 0);
  t.regex(bad.stderr, /--backend 'webgl2' is not one of webgpu, webgl, wasm, cpu/);
  const alone = await runBench(['--backend', 'wasm']);
  t.not(alone.code, 0);
  t.regex(alone.stderr, /needs --browser/);
});
