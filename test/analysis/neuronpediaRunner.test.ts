/**
 * The Neuronpedia runner end to end on the shared tiny GPT-2 and a trained SAE (fixture of
 * test/analysis/featureStatistics): skipped_indexes.json and batch-N.json as SAELens v1.5 lays
 * them out, a rerun keeps existing batch files. The numbers themselves are checked against the
 * torch reference in neuronpedia.test.ts.
 */
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { arraySplit, runNeuronpedia } from '../../src/analysis/neuronpediaRunner.js';
import type { NeuronpediaBatch } from '../../src/analysis/neuronpedia.js';
import { HookedTransformer } from '../../src/model/HookedTransformer.js';
import { loadTokenizer } from '../../src/model/tokenizer.js';
import { loadSae, loadSaeSparsity } from '../../src/sae/saeFolder.js';
import { leakedTensors, setupTf } from '../helpers/tf.js';

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const GPT2 = path.resolve(REPO, '../shared/models/tiny-gpt2-sotu');
const AUSTEN = path.resolve(REPO, '../shared/data/austen.txt');
const SAE = path.join(REPO, 'test/fixtures/analysis/sae');
const have = existsSync(path.join(GPT2, 'model.safetensors')) && existsSync(AUSTEN);

test('arraySplit: numpy array_split into ceil(n / size) parts', (t) => {
  t.deepEqual(arraySplit([1, 2, 3, 4, 5, 6, 7], 3), [[1, 2, 3], [4, 5], [6, 7]]);
  t.deepEqual(arraySplit([1, 2, 3, 4], 2), [[1, 2], [3, 4]]);
  t.deepEqual(arraySplit([], 2), []);
});

(have ? test : test.skip)('runNeuronpedia on the tiny GPT-2: the runner\'s files, existing batches kept', async (t) => {
  await setupTf();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sae-rx-np-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const model = await HookedTransformer.fromFolder(GPT2);
  const sae = await loadSae(SAE);
  t.teardown(() => {
    model.dispose();
    sae.dispose();
  });
  const tok = loadTokenizer(GPT2);
  const vocabObj = (JSON.parse(readFileSync(path.join(GPT2, 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number> } }).model.vocab;
  const vocab: string[] = [];
  for (const [s, id] of Object.entries(vocabObj)) vocab[id] = s;
  const nSeq = 4, seqLen = 16;
  const ids = tok.encode(readFileSync(AUSTEN, 'utf8').slice(0, 4000)).slice(0, nSeq * (seqLen - 1));
  const tokens = new Int32Array(nSeq * seqLen);
  for (let s = 0; s < nSeq; s++) {
    tokens[s * seqLen] = tok.bosTokenId ?? 50256;
    tokens.set(ids.slice(s * (seqLen - 1), (s + 1) * (seqLen - 1)), s * seqLen + 1);
  }
  const sparsity = (await loadSaeSparsity(SAE))!;
  t.truthy(sparsity);
  const logS = Array.from(sparsity);
  const opts = {
    outputsDir: dir, modelId: 'tiny-gpt2-sotu', layer: 1, saeId: 'test-sae', tokens, nSeq, seqLen,
    sparsity: logS, vocab, featuresPerBatch: 2, endBatch: 2, nPromptsToSelect: nSeq,
  };
  let res!: Awaited<ReturnType<typeof runNeuronpedia>>;
  t.is(await leakedTensors(async () => { res = await runNeuronpedia(model, sae, opts); }), 0);
  const targets = logS.map((v, i) => [v, i] as const).filter(([v]) => v > -5).map(([, i]) => i);
  const skipped = JSON.parse(readFileSync(path.join(dir, 'skipped_indexes.json'), 'utf8'));
  t.deepEqual(skipped, { model_id: 'tiny-gpt2-sotu', layer: '1', sae_id: 'test-sae', log_sparsity: -5, skipped_indexes: logS.map((v, i) => [v, i] as const).filter(([v]) => !(v > -5)).map(([, i]) => i) });
  t.deepEqual(res.written.map((f) => path.basename(f)), ['batch-1.json', 'batch-2.json']);
  const b1 = JSON.parse(readFileSync(res.written[0]!, 'utf8')) as NeuronpediaBatch;
  t.deepEqual(Object.keys(b1), ['model_id', 'layer', 'sae_id', 'features', 'n_batches_to_sample_from', 'n_prompts_to_select']);
  t.deepEqual(b1.features.map((f) => f.featureIndex), arraySplit(targets, 2)[0]);
  for (const f of b1.features) {
    t.is(f.pos_str.length, 10);
    t.is(f.neuron_alignment_indices.length, 3);
    t.is(f.num_tokens_for_dashboard, nSeq);
    const top = f.activations.filter((a) => a.binMin === -1);
    t.is(top.length, 20);
    for (const a of f.activations) {
      t.is(a.tokens.length, seqLen - 1, 'the whole sequence but its first token');
      t.is(a.values.length, seqLen - 1);
      t.is(a.lossValues.length, seqLen - 1);
      const lc = JSON.parse(a.logitContributions) as { pos: unknown[]; neg: unknown[] };
      t.is(lc.pos.length, seqLen - 1);
    }
    t.false(f.activations.some((a) => a.tokens.some((s) => s.includes('Ġ'))));
  }
  // a second run keeps both files and writes nothing
  const again = await runNeuronpedia(model, sae, opts);
  t.deepEqual(again.written, []);
  t.is(again.skippedExisting.length, 2);
});
