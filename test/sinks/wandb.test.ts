import test from 'ava';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { decodeRunnerConfig, expandSweep } from '../../src/config/index.js';
import { wandbOptionsFromRunnerConfig, wandbSink } from '../../src/sinks/wandb.js';
import { netrcPassword, resolveWandbAuth } from '../../src/sinks/wandb/auth.js';
import type { EvalRecord, StepRecord, TrainEvent } from '../../src/stream/TrainEvent.js';
import { startFakeWandb, virtualClock } from '../helpers/fakeWandb.js';
import { tempDir } from '../helpers/tempDir.js';

const KEY = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678'; // 40 hex chars, like a real key
const KEY_B64 = Buffer.from(`api:${KEY}`).toString('base64');

function step(i: number, saeId = 'sae0', extra: Partial<StepRecord> = {}): StepRecord {
  return {
    type: 'step', saeId, step: i, tokens: (i + 1) * 4096,
    losses: { mse: 1 / (i + 1), l1: 0.002, ghost: 0, total: 1 / (i + 1) + 0.002 },
    l0: 30 - i / 10, explainedVarianceMean: 0.5, explainedVarianceStd: 0.1, deadFeatures: 3,
    lr: 3e-4, l1Coefficient: 1e-3, phase: 'train', ...extra,
  };
}

const noWarn = () => {};

test('protocol: run upsert, history rows under SAELens names, histograms, summary, complete', async (t) => {
  const fake = await startFakeWandb({ apiKey: KEY, entity: 'me' });
  t.teardown(() => fake.close());
  const warnings: string[] = [];
  const sink = wandbSink({
    project: 'sae-proj', runName: '2048-L1-0.001', id: 'run12345', baseUrl: fake.url, apiKey: KEY,
    config: { l1_coefficient: 1e-3, d_sae: 2048, hf_token: 'hf_' + 'x'.repeat(34), model_kwargs: { token: 'zzz' } },
    logFrequency: 2, minSendIntervalMs: 0, heartbeatMs: 0, warn: (m) => warnings.push(m),
  });
  for (let i = 0; i < 10; i++) sink.next(step(i));
  const ev: EvalRecord = {
    type: 'eval', saeId: 'sae0', step: 9, tokens: 40960,
    metrics: { ce_loss_score: 0.9, ce_loss_with_sae: 3.2, ce_loss_without_sae: 3.0, ce_loss_with_ablation: 5, kl_div: 0.1, l2_norm: 2, l2_ratio: 0.95, l2_norm_in: 2.1 },
    histograms: { W_dec_norms: { edges: [0, 0.5, 1], counts: [3, 7] } },
  };
  sink.next(ev);
  sink.next({ type: 'checkpoint', saeId: 'sae0', step: 9, tokens: 40960, path: '/tmp/x' });
  sink.next({ type: 'done', saeId: 'sae0', step: 10, tokens: 40960 });
  await sink.closed;

  t.deepEqual(fake.problems, []);
  const run = fake.runs.get('me/sae-proj/run12345');
  t.truthy(run, 'run created under the key\'s default entity');
  t.is(run!.displayName, '2048-L1-0.001');
  t.deepEqual(run!.config!.l1_coefficient, { value: 1e-3, desc: null });
  t.deepEqual(run!.config!.hf_token, { value: '***', desc: null }, 'secrets masked in the run config');
  t.deepEqual(run!.config!.model_kwargs, { value: { token: '***' }, desc: null });
  const rows = run!.history.map((l) => JSON.parse(l) as Record<string, unknown>);
  t.deepEqual(rows.map((r) => r._step), [1, 3, 5, 7, 9], 'logged when (step + 1) % logFrequency == 0');
  const r1 = rows[0]!;
  t.is(r1['losses/mse_loss'], 0.5);
  t.is(r1['losses/l1_loss'], 2, 'L1 divided by the coefficient, as SAELens');
  t.is(r1['losses/ghost_grad_loss'], 0);
  t.is(r1['losses/overall_loss'], 0.502);
  t.is(r1['metrics/explained_variance'], 0.5);
  t.is(r1['metrics/explained_variance_std'], 0.1);
  t.is(r1['metrics/l0'], 29.9);
  t.is(r1['sparsity/dead_features'], 3);
  t.is(r1['details/current_learning_rate'], 3e-4);
  t.is(r1['details/current_l1_coefficient'], 1e-3);
  t.is(r1['details/n_training_tokens'], 8192);
  t.is(typeof r1._runtime, 'number');
  t.is(typeof r1._timestamp, 'number');
  const r9 = rows[4]!;
  t.is(r9['metrics/CE_loss_score'], 0.9, 'step and eval of one step are one line');
  t.is(r9['metrics/ce_loss_with_sae'], 3.2);
  t.is(r9['metrics/ce_loss_without_sae'], 3.0);
  t.is(r9['metrics/ce_loss_with_ablation'], 5);
  t.is(r9['metrics/kl_div'], 0.1);
  t.is(r9['metrics/l2_ratio'], 0.95);
  t.deepEqual(r9['weights/W_dec_norms'], { _type: 'histogram', values: [3, 7], bins: [0, 0.5, 1] });
  t.is(r9['losses/mse_loss'], 0.1);
  t.is(run!.summary!['metrics/CE_loss_score'], 0.9);
  t.is(run!.summary!._step, 9);
  t.true(run!.complete);
  t.is(run!.exitcode, 0);
  t.deepEqual(warnings, []);
  t.like(sink.stats(), { sentLines: 5, pendingLines: 0, droppedLines: 0, state: 'finished', run: { entity: 'me', project: 'sae-proj', id: 'run12345' } });
});

for (const mode of ['503', 'drop'] as const) {
  test(`a 30 s outage (${mode === '503' ? 'HTTP 503' : 'dropped connections'}) loses no history line`, async (t) => {
    const clock = virtualClock();
    const fake = await startFakeWandb({ apiKey: KEY, now: clock.now });
    t.teardown(() => fake.close());
    const warnings: string[] = [];
    // Default backoff (2 s doubling to 60 s), on a virtual clock: the 30 s pass in milliseconds.
    const sink = wandbSink({
      project: 'p', entity: 'team', id: 'outage1', baseUrl: fake.url, apiKey: KEY, logFrequency: 1,
      heartbeatMs: 0, clock, warn: (m) => warnings.push(m),
    });
    for (let i = 0; i < 20; i++) sink.next(step(i));
    await sink.flush();
    t.is(fake.runs.get('team/p/outage1')!.history.length, 20);

    fake.outage(30_000, mode);
    const t0 = clock.now();
    for (let i = 20; i < 120; i++) {
      t.notThrows(() => sink.next(step(i)));
      if (i % 25 === 0) await new Promise((r) => setImmediate(r)); // let the pump try during the outage
    }
    sink.complete();
    await sink.closed;

    const run = fake.runs.get('team/p/outage1')!;
    t.deepEqual(fake.problems, []);
    t.true(fake.outageRefusals >= 3, `refused ${fake.outageRefusals}`);
    t.true(clock.now() - t0 >= 30_000, 'the sink kept retrying until the outage ended');
    t.deepEqual(run.history.map((l) => (JSON.parse(l) as { _step: number })._step), Array.from({ length: 120 }, (_, i) => i));
    t.true(run.complete);
    const s = sink.stats();
    t.is(s.droppedLines, 0);
    t.is(s.sentLines, 120);
    t.true(s.failedRequests >= 3);
    t.is(warnings.filter((w) => /buffering and retrying with backoff/.test(w)).length, 1, warnings.join('\n'));
    t.is(warnings.filter((w) => /reachable again/.test(w)).length, 1);
    t.false(warnings.join('\n').includes(KEY));
  });
}

test('bounded buffer: drops the oldest, warns once with the count', async (t) => {
  const clock = virtualClock();
  const fake = await startFakeWandb({ apiKey: KEY, now: clock.now });
  t.teardown(() => fake.close());
  const warnings: string[] = [];
  const sink = wandbSink({
    project: 'p', entity: 'e', id: 'bound1', baseUrl: fake.url, apiKey: KEY, logFrequency: 1, heartbeatMs: 0,
    maxBufferedLines: 5, clock, warn: (m) => warnings.push(m), retry: { initialDelayMs: 1000, maxDelayMs: 1000 },
  });
  sink.next(step(0));
  await sink.flush();
  fake.outage(60 * 60_000);
  for (let i = 1; i <= 20; i++) sink.next(step(i));
  sink.next(step(21)); // pushes out step 20's pending row
  sink.complete(); // emits step 21's row, still during the outage
  await new Promise((r) => setTimeout(r, 50));
  fake.endOutage();
  await sink.closed;
  const run = fake.runs.get('e/p/bound1')!;
  t.deepEqual(run.history.map((l) => (JSON.parse(l) as { _step: number })._step), [0, 17, 18, 19, 20, 21]);
  t.is(sink.stats().droppedLines, 16);
  const drops = warnings.filter((w) => /dropping the oldest/.test(w));
  t.is(drops.length, 1, warnings.join('\n'));
  t.regex(drops[0]!, /buffer of 5 history lines is full/);
  t.true(warnings.some((w) => /16 history lines were not sent/.test(w)));
});

test('the API key never appears in warnings, even when the server echoes it', async (t) => {
  const fake = await startFakeWandb({ apiKey: 'the-right-key' });
  t.teardown(() => fake.close());
  const warnings: string[] = [];
  const sink = wandbSink({ project: 'p', baseUrl: fake.url, apiKey: KEY, heartbeatMs: 0, minSendIntervalMs: 0, warn: (m) => warnings.push(m) });
  sink.next(step(9));
  sink.complete();
  await sink.closed;
  t.is(sink.stats().state, 'failed');
  t.true(fake.requests.some((r) => r.status === 401));
  const all = warnings.join('\n');
  t.regex(all, /HTTP 401/);
  t.regex(all, /not retrying/);
  t.false(all.includes(KEY));
  t.false(all.includes(KEY_B64));
});

test('training-side next() never throws, even with W&B down, a throwing fetch, bad records and a throwing warn', async (t) => {
  const warnings: string[] = [];
  const sink = wandbSink({
    project: 'p', apiKey: KEY, baseUrl: 'http://127.0.0.1:9', heartbeatMs: 0, closeTimeoutMs: 300,
    fetch: () => {
      throw new TypeError('fetch failed');
    },
    retry: { initialDelayMs: 10, maxDelayMs: 20 },
    warn: (m) => {
      warnings.push(m);
      throw new Error('warn callback broke');
    },
  });
  t.notThrows(() => {
    for (let i = 0; i < 100; i++) sink.next(step(i));
    sink.next({ type: 'step', saeId: 'x', step: 9 } as unknown as TrainEvent); // malformed
    sink.next(null as unknown as TrainEvent);
    sink.error(new Error('training failed'));
  });
  await sink.closed;
  t.is(sink.stats().state, 'failed');
  t.true(warnings.some((w) => /ignored a record/.test(w)));
  t.true(warnings.some((w) => /timed out/.test(w)));
  t.false(warnings.join('\n').includes(KEY));
  t.notThrows(() => sink.next(step(200)));
  await t.notThrowsAsync(sink.flush());
});

test('a sweep logs each SAE with its suffix; done for every SAE completes the run; heartbeats when idle', async (t) => {
  const fake = await startFakeWandb({ apiKey: KEY, entity: 'me' });
  t.teardown(() => fake.close());
  const suffix: Record<string, string> = { a: '_coeff0.001', b: '_coeff0.005' };
  const sink = wandbSink({
    project: 'p', id: 'sweep1', baseUrl: fake.url, apiKey: KEY, logFrequency: 1, minSendIntervalMs: 0,
    heartbeatMs: 20, metricSuffix: (id) => suffix[id]!, warn: noWarn,
  });
  sink.next(step(0, 'a'));
  sink.next(step(0, 'b', { l1Coefficient: 5e-3 }));
  await sink.flush();
  await new Promise((r) => setTimeout(r, 120));
  sink.next({ type: 'done', saeId: 'a', step: 1, tokens: 4096 });
  t.is(sink.stats().state, 'running', 'b is not done yet');
  sink.next({ type: 'done', saeId: 'b', step: 1, tokens: 4096 });
  await sink.closed;
  const run = fake.runs.get('me/p/sweep1')!;
  t.deepEqual(fake.problems, []);
  t.is(run.history.length, 1, 'one line per step for all SAEs');
  const row = JSON.parse(run.history[0]!) as Record<string, unknown>;
  t.is(row['losses/mse_loss_coeff0.001'], 1);
  t.is(row['details/current_l1_coefficient_coeff0.005'], 5e-3);
  t.is(row['details/n_training_tokens'], 4096);
  t.true(run.heartbeats >= 1, `heartbeats ${run.heartbeats}`);
  t.true(run.complete);
});

test('auth: option, WANDB_API_KEY, netrc for the base URL host; a missing key names no secret', async (t) => {
  const dir = tempDir(t, 'sae-rx-netrc-');
  const netrc = join(dir, 'netrc');
  await writeFile(netrc, `machine api.wandb.ai\n  login user\n  password ${KEY}\nmachine wandb.example.com login user password local-key-123\n`);
  t.is(netrcPassword(`default login x password dflt`, 'any.host'), 'dflt');
  t.deepEqual(resolveWandbAuth({ env: {}, netrcPath: netrc }), { baseUrl: 'https://api.wandb.ai', apiKey: KEY });
  t.deepEqual(resolveWandbAuth({ env: { WANDB_BASE_URL: 'https://wandb.example.com/' }, netrcPath: netrc }), {
    baseUrl: 'https://wandb.example.com', apiKey: 'local-key-123',
  });
  t.is(resolveWandbAuth({ env: { WANDB_API_KEY: 'env-key' }, netrcPath: netrc }).apiKey, 'env-key');
  t.is(resolveWandbAuth({ apiKey: 'opt-key', env: { WANDB_API_KEY: 'env-key' } }).apiKey, 'opt-key');
  const e = t.throws(() => resolveWandbAuth({ env: { WANDB_BASE_URL: 'https://other.example' }, netrcPath: netrc }), { instanceOf: ConfigError });
  t.regex(e!.message, /no W&B API key.*machine other\.example/);
  t.false(e!.message.includes(KEY));
});

test('a logged row is sent once training moves past its step, without waiting for the next log', async (t) => {
  const fake = await startFakeWandb({ apiKey: KEY, entity: 'me' });
  t.teardown(() => fake.close());
  const sink = wandbSink({ project: 'p', id: 'rows1', baseUrl: fake.url, apiKey: KEY, logFrequency: 10, minSendIntervalMs: 0, heartbeatMs: 0, warn: noWarn });
  for (let i = 0; i <= 10; i++) sink.next(step(i));
  const deadline = Date.now() + 5000;
  while ((fake.runs.get('me/p/rows1')?.history.length ?? 0) < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  t.deepEqual(fake.runs.get('me/p/rows1')!.history.map((l) => (JSON.parse(l) as { _step: number })._step), [9]);
  sink.complete();
  await sink.closed;
  t.true(fake.runs.get('me/p/rows1')!.complete);
});

test('options from a decoded runner config: SAELens names and suffixes per sae_id', (t) => {
  const cfg = decodeRunnerConfig({ l1_coefficient: [1e-3, 5e-3], wandb_project: 'proj', wandb_log_frequency: 20, wandb_id: 'abc' });
  const saes = expandSweep(cfg);
  const o = wandbOptionsFromRunnerConfig(cfg, saes);
  t.like(o, { project: 'proj', id: 'abc', runName: cfg.run_name, logFrequency: 20 });
  t.is(o.entity, undefined);
  t.is(o.metricSuffix!(saes[1]!.sae_id), '_coeff0.005');
  t.is((o.config as Record<string, unknown>).wandb_project, 'proj');
  const single = decodeRunnerConfig({});
  const [s] = expandSweep(single);
  t.is(wandbOptionsFromRunnerConfig(single).metricSuffix!(s!.sae_id), '');
});

// Issue #11 item 6: an unreachable W&B server used to hold the end of every run for the whole
// closeTimeoutMs (60 s). When W&B never answered during the run, the end waits a few seconds.
for (const mode of ['drop', '503'] as const) {
  test(`W&B unreachable for the whole run (${mode === 'drop' ? 'dropped connections' : 'HTTP 503'}): the end waits a few seconds, not 60, and says what was not sent`, async (t) => {
    const fake = await startFakeWandb({ apiKey: KEY });
    t.teardown(() => fake.close());
    fake.outage(60 * 60_000, mode); // real clock: unreachable for an hour
    const warnings: string[] = [];
    // Defaults: closeTimeoutMs 60 s, unansweredCloseTimeoutMs 5 s, backoff from 2 s.
    const sink = wandbSink({ project: 'p', entity: 'e', id: 'down1', baseUrl: fake.url, apiKey: KEY, logFrequency: 1, warn: (m) => warnings.push(m) });
    for (let i = 0; i < 12; i++) sink.next(step(i));
    const t0 = Date.now();
    sink.complete();
    await sink.closed;
    const waited = Date.now() - t0;
    t.true(waited >= 4000 && waited < 15_000, `the end waited ${waited} ms`);
    t.true(fake.outageRefusals >= 1, 'the sink did try');
    t.is(sink.stats().state, 'failed');
    t.is(sink.stats().sentLines, 0);
    const gaveUp = warnings.filter((w) => /did not answer any request during the run/.test(w));
    t.is(gaveUp.length, 1, warnings.join('\n'));
    t.regex(gaveUp[0]!, /timed out 5 s after training ended/);
    t.regex(gaveUp[0]!, /Not sent: 12 history lines, the run summary and the run's completion \(no run e\/p\/down1 was created on W&B\)/);
    t.regex(gaveUp[0]!, new RegExp(fake.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    t.false(warnings.join('\n').includes(KEY));
    t.is(fake.runs.size, 0);
  });
}

test('W&B that answered during the run keeps the full close timeout: it comes back 1.5 s after the end, past the short bound, and gets everything', async (t) => {
  const fake = await startFakeWandb({ apiKey: KEY });
  t.teardown(() => fake.close());
  const warnings: string[] = [];
  const sink = wandbSink({
    project: 'p', entity: 'e', id: 'late1', baseUrl: fake.url, apiKey: KEY, logFrequency: 1, heartbeatMs: 0,
    minSendIntervalMs: 0, unansweredCloseTimeoutMs: 1000, retry: { initialDelayMs: 200, maxDelayMs: 400 },
    warn: (m) => warnings.push(m),
  });
  sink.next(step(0));
  await sink.flush();
  fake.outage(60 * 60_000, 'drop');
  for (let i = 1; i < 6; i++) sink.next(step(i));
  sink.complete();
  setTimeout(() => fake.endOutage(), 1500); // past unansweredCloseTimeoutMs, well within closeTimeoutMs
  await sink.closed;
  const run = fake.runs.get('e/p/late1')!;
  t.is(run.history.length, 6);
  t.true(run.complete);
  t.is(sink.stats().state, 'finished');
  t.false(warnings.some((w) => /did not answer/.test(w)), warnings.join('\n'));
});
