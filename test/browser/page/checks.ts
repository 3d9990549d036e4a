/**
 * The page side of test/browser/numerics.test.ts, bundled with scripts/buildBrowser.mjs like any
 * page built on sae-rx (src/browser.ts): each check runs in the page and returns the measured
 * deviations from the PyTorch references; the test holds them to its tolerances.
 */
import {
  HookedTransformer, SaeTrainer, SafetensorsFile, bytesFile, hubFolder, loadSaeFrom, loadTokenizerFrom, memoryFolder,
  selectBackend, tf, urlFolder,
} from '../../../src/browser.js';
import { compare, saeFromRun, trainerCfgFrom } from '../../sae/runConfigs.js';
import { SyntheticActs } from '../../train/syntheticData.js';

const D_IN = 16;
const D_SAE = 64;

/** `name` null: sae-rx's own choice. */
async function backend(name: string | null): Promise<{ backend: string; skipped: string[] }> {
  const c = await selectBackend(name === null ? {} : { prefer: name });
  return { backend: tf.getBackend(), skipped: c.skipped.map((s) => `${s.name}: ${s.reason}`) };
}

const relErr = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);

/** The SaeTrainer golden trajectory of test/fixtures/sae/train.json (first `steps` steps). */
async function golden(steps: number) {
  const fx = await (await fetch('/fixtures/sae/train.json')).json();
  const run = fx.trajectory;
  const n = Math.min(steps, run.steps);
  const snaps = new Map<number, Record<string, number[]>>(run.snapshots.map((s: any) => [s.after_step, s.params]));
  const before = tf.memory().numTensors;
  const sae = saeFromRun(run, D_IN, D_SAE);
  const tr = new SaeTrainer(sae, trainerCfgFrom(run.trainer));
  const data = new SyntheticActs(run.data_seed);
  const worst = { mse: 0, l1: 0, total: 0, l0: 0, evMean: 0, lr: 0, deadMismatches: 0, params: 0 };
  const t0 = performance.now();
  for (let k = 0; k < n; k++) {
    const x = tf.tensor2d(data.batch(run.trainer.train_batch_size), [run.trainer.train_batch_size, D_IN]);
    // stepAsync: reads the metrics by data(); webgpu's dataSync() goes through a canvas, ~1 s a step here
    const m = await tr.stepAsync(x);
    x.dispose();
    const w = run.metrics[k];
    worst.mse = Math.max(worst.mse, relErr(m.losses.mse, w.mse));
    worst.l1 = Math.max(worst.l1, relErr(m.losses.l1, w.l1));
    worst.total = Math.max(worst.total, relErr(m.losses.total, w.total));
    worst.l0 = Math.max(worst.l0, Math.abs(m.l0 - w.l0));
    worst.evMean = Math.max(worst.evMean, Math.abs(m.explainedVarianceMean - w.ev_mean));
    worst.lr = Math.max(worst.lr, relErr(m.lr, w.lr));
    if (m.deadFeatures !== w.dead) worst.deadMismatches++;
    const want = snaps.get(k);
    if (want) {
      const snap = sae.snapshot() as unknown as Record<string, Float32Array>;
      for (const [ours, theirs] of [['W_enc', 'W_enc'], ['b_enc', 'b_enc'], ['W_dec', 'W_dec'], ['b_dec', 'b_dec']]) {
        worst.params = Math.max(worst.params, compare(snap[ours]!, want[theirs]!, 0).worst);
      }
    }
  }
  const ms = performance.now() - t0;
  tr.dispose();
  sae.dispose();
  return { steps: n, ms, worst, leaked: tf.memory().numTensors - before, snapshotsChecked: [...snaps.keys()].filter((k) => k < n).length };
}

/** The tiny GPT-2 (hf convention, no weight processing) against reference.safetensors, loaded by URL. */
async function gpt2(modelUrl: string, maxPrompts = Infinity) {
  const folder = urlFolder(modelUrl);
  const before = tf.memory().numTensors;
  const t0 = performance.now();
  const model = await HookedTransformer.fromFolder(folder, { processWeights: false });
  const tok = await loadTokenizerFrom(folder);
  const loadMs = performance.now() - t0;
  const refJson = JSON.parse(new TextDecoder().decode(await folder.bytes('reference.json'))) as { prompts: { text: string; tokens: number[] }[] };
  const ref = await SafetensorsFile.open('reference.safetensors', bytesFile(await folder.bytes('reference.safetensors')));
  const perKey: Record<string, number> = {};
  let tokenizerMatches = 0;
  let tokens = 0;
  const t1 = performance.now();
  const prompts = refJson.prompts.slice(0, maxPrompts);
  for (const [i, p] of prompts.entries()) {
    if (JSON.stringify(tok.encode(p.text)) === JSON.stringify(p.tokens) || JSON.stringify(tok.encode(p.text, { prependBos: true })) === JSON.stringify(p.tokens)) tokenizerMatches++;
    const prefix = `hf/${i}/`;
    const keys = ref.names().filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
    const hooks = keys.filter((k) => k !== 'logits' && k !== 'loss_per_token');
    const input = tf.tensor2d([p.tokens], undefined, 'int32');
    tokens += p.tokens.length;
    const { logits, cache } = model.runWithCache(input, { names: hooks, returnType: 'logits' });
    const loss = model.lossPerToken(input);
    input.dispose();
    const ours = new Map<string, tf.Tensor>(cache);
    ours.set('logits', logits!);
    ours.set('loss_per_token', loss);
    // One read-back for every tensor (flattened and concatenated): each read is a GPU round trip,
    // slow on SwiftShader; data(), not dataSync() (on webgpu that goes through a canvas).
    const present = keys.filter((k) => ours.has(k));
    const flat = tf.tidy(() => tf.concat(present.map((k) => tf.reshape(ours.get(k)!, [-1]))));
    const all = (await flat.data()) as Float32Array;
    flat.dispose();
    const offsets = new Map<string, [number, number]>();
    let at = 0;
    for (const k of present) {
      const n = ours.get(k)!.size;
      offsets.set(k, [at, n]);
      at += n;
    }
    for (const k of keys) {
      const where = offsets.get(k);
      if (!where) {
        perKey[k] = Infinity;
        continue;
      }
      const got = all.subarray(where[0], where[0] + where[1]);
      const want = await ref.readFloat32(prefix + k);
      let m = got.length === want.length ? 0 : Infinity;
      for (let j = 0; j < want.length && m !== Infinity; j++) {
        if (got[j] === want[j]) continue; // equal infinities (masked attention scores) are equal
        const d = Math.abs(got[j]! - want[j]!);
        m = Number.isNaN(d) ? Infinity : Math.max(m, d);
      }
      perKey[k] = Math.max(perKey[k] ?? 0, m);
    }
    for (const t of ours.values()) t.dispose();
  }
  const forwardMs = performance.now() - t1;
  model.dispose();
  await ref.close();
  return { perKey, tokenizerMatches, prompts: prompts.length, tokens, loadMs, forwardMs, leaked: tf.memory().numTensors - before };
}

/** A Hub repo over HTTP (the test's server as the endpoint): tokenizer + config through hubFolder. */
async function hub(endpoint: string, repo: string, token: string) {
  const folder = hubFolder(repo, { hub: { endpoint, token, maxRetries: 0 } });
  const tok = await loadTokenizerFrom(folder);
  let missing = '';
  try {
    await folder.bytes('no-such-file.json');
  } catch (e) {
    missing = (e as Error).message;
  }
  let offline = '';
  try {
    await hubFolder(repo, { hub: { endpoint, offline: true } }).bytes('config.json');
  } catch (e) {
    offline = (e as Error).message;
  }
  return { vocabSize: tok.vocabSize, missing, offline };
}

/** An SAE folder built in memory (as files dropped into the page would be) round-trips through loadSaeFrom. */
async function saeFromFiles(files: Record<string, number[] | string>) {
  const folder = memoryFolder(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, typeof v === 'string' ? v : Uint8Array.from(v)])));
  const sae = await loadSaeFrom(folder);
  const out = { dIn: sae.cfg.dIn, dSae: sae.cfg.dSae, architecture: sae.cfg.architecture };
  sae.dispose();
  return out;
}

(globalThis as Record<string, unknown>)['saeRxChecks'] = { backend, golden, gpt2, hub, saeFromFiles };
