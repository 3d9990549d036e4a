/**
 * TSEA against scripts/reference/feature_stats_reference.py (SAELens v1.5 tsea.py's sets and
 * calculate_batch_enrichment_scores, float64 torch) on the tiny GPT-2 with the trained SAE
 * fixture; the token sets from wink-pos-tagger and the name lists; the two SVG plots.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { decoderLogitProjection } from '../../src/analysis/featureStatistics.js';
import {
  letterTokenSets,
  mergeTokenSets,
  nameTokenSets,
  posTokenSets,
  pythonMatchRegExp,
  readTokenizerVocab,
  regexTokenSets,
  wordListTokenSets,
} from '../../src/analysis/tokenSets.js';
import { enrichmentScores, enrichmentScoresFromRows, topFeaturesForSet } from '../../src/analysis/tsea.js';
import { featureProjectionsSvg, manhattanPlotSvg } from '../../src/analysis/tseaPlots.js';
import { SAELENS_WORD_LISTS } from '../../src/analysis/tseaWordLists.js';
import { loadTokenizer } from '../../src/model/tokenizer.js';
import { loadSae } from '../../src/sae/saeFolder.js';
import { SafetensorsFile } from '../../src/io/safetensors.js';
import { TINY_GPT2_DIR, useTinyGpt2 } from '../helpers/tinyGpt2.js';

const FIX = 'test/fixtures/analysis';
const ref = JSON.parse(readFileSync(`${FIX}/feature_stats_reference.json`, 'utf8'));
const { withModel, model } = useTinyGpt2('TSEA');

/** The script's W_U (ln_f folded, centered over d_model then vocab, float64 -> float32) and W_dec·W_U in float64. */
async function referenceLogitRows(wDec: Float32Array, dIn: number, vocab: number, features: number[]): Promise<Float64Array> {
  const f = await SafetensorsFile.open(path.join(TINY_GPT2_DIR, 'model.safetensors'));
  const wte = await f.readFloat32('transformer.wte.weight'); // [vocab, d]
  const lnW = await f.readFloat32('transformer.ln_f.weight');
  await f.close();
  const U = new Float64Array(dIn * vocab); // [d, vocab]
  for (let v = 0; v < vocab; v++) for (let d = 0; d < dIn; d++) U[d * vocab + v] = wte[v * dIn + d]! * lnW[d]!;
  for (let v = 0; v < vocab; v++) {
    let m = 0;
    for (let d = 0; d < dIn; d++) m += U[d * vocab + v]!;
    m /= dIn;
    for (let d = 0; d < dIn; d++) U[d * vocab + v]! -= m;
  }
  for (let d = 0; d < dIn; d++) {
    const r = U.subarray(d * vocab, (d + 1) * vocab);
    let m = 0;
    for (let v = 0; v < vocab; v++) m += r[v]!;
    m /= vocab;
    for (let v = 0; v < vocab; v++) r[v] = Math.fround(r[v]! - m);
  }
  const rows = new Float64Array(features.length * vocab);
  features.forEach((feat, j) => {
    const row = rows.subarray(j * vocab, (j + 1) * vocab);
    for (let d = 0; d < dIn; d++) {
      const w = wDec[feat * dIn + d]!;
      const ud = U.subarray(d * vocab, (d + 1) * vocab);
      for (let v = 0; v < vocab; v++) row[v]! += w * ud[v]!;
    }
  });
  return rows;
}

function digest(ids: Set<number>) {
  const s = [...ids].sort((a, b) => a - b);
  return { size: s.length, sum: s.reduce((a, b) => a + b, 0), sum_sq: s.reduce((a, b) => a + b * b, 0), first: s.slice(0, 5) };
}

withModel('letter and regex token sets equal Python re.match / str.isalpha sets; enrichment scores equal the reference (1e-5 relative)', async (t) => {
  const vocab = readTokenizerVocab(path.join(TINY_GPT2_DIR, 'tokenizer.json'));
  t.is(vocab.get('Ġthe'), 262);
  const sets = mergeTokenSets(letterTokenSets(vocab), regexTokenSets(vocab));
  for (const name of ref.tsea.set_names as string[]) t.deepEqual(digest(sets.get(name)!), ref.tsea.sets[name], `set ${name}`);
  t.deepEqual([...sets.keys()], ref.tsea.set_names);

  const sae = await loadSae(`${FIX}/sae`);
  const wU = model().unembedWeights();
  t.teardown(() => {
    sae.dispose();
    wU.dispose();
  });
  const features = Array.from({ length: ref.d_sae }, (_, i) => i);
  const want = ref.tsea.scores as number[][];
  const worstRel = (got: Float64Array) => {
    let worst = 0;
    let over = 0;
    for (let s = 0; s < want.length; s++) {
      for (let j = 0; j < features.length; j++) {
        const w = want[s]![j]!;
        const e = Math.abs(got[s * features.length + j]! - w) / Math.abs(w);
        worst = Math.max(worst, e);
        if (e > 1e-5) over++;
      }
    }
    return { worst, over };
  };
  // 1. the scores from the same logit weights as the reference: W_U processed in float64 from
  // the raw weights, rounded to float32, then W_dec·W_U in float64 (as the script does)
  const wDec = sae.W_dec.dataSync() as Float32Array;
  const [dIn, vocabN] = wU.shape;
  const rows64 = await referenceLogitRows(wDec, dIn, vocabN, features);
  const exact = worstRel(enrichmentScoresFromRows(rows64, vocabN, features, sets).scores);
  t.log(`TSEA from float64 logit weights: ${want.length} sets × ${features.length} features, max relative error ${exact.worst.toExponential(2)}`);
  t.true(exact.worst < 1e-5, `max relative error ${exact.worst}`);
  // 2. end to end through tfjs's float32 matMul: near-tied logit weights may swap places, which
  // moves a score by a step of 1/|S| now and then (SAELens's own float32 run differs from float64 too)
  const before = tf.memory().numTensors;
  const es = enrichmentScores(sae.W_dec, wU, features, sets, { chunkFeatures: 24 });
  t.is(tf.memory().numTensors, before);
  const e2e = worstRel(es.scores);
  t.log(`TSEA through float32 W_dec·W_U: ${e2e.over} of ${want.length * features.length} scores off by more than 1e-5 relative, worst ${e2e.worst.toExponential(2)} (SAELens float32 vs float64: ${ref.tsea.max_abs_diff_float32_vs_float64.toExponential(2)} abs)`);
  t.true(e2e.over <= 0.01 * want.length * features.length && e2e.worst < 5e-3);

  // the plots: a panel per set, escaped labels, top features labelled
  const svg = manhattanPlotSvg(es, { labelThreshold: 0 });
  t.is((svg.match(/class="panel"/g) ?? []).length, want.length);
  t.true(svg.includes('data-set="starts_with_space"'));
  t.is((svg.match(/<circle /g) ?? []).length, want.length * features.length);
  const best = topFeaturesForSet(es, 'all_digits', 3);
  t.true(svg.includes(`>${best[0]!.feature}</text>`));
  const rows = decoderLogitProjection(sae.W_dec, wU, best.map((b) => b.feature));
  const hist = featureProjectionsSvg({ es, category: 'all_digits', setIds: sets.get('all_digits')!, rows, rowFeatures: best.map((b) => b.feature), vocab: wU.shape[1], k: 3 });
  t.is((hist.match(/class="panel"/g) ?? []).length, 3);
  t.true(hist.includes(`W_dec_${best[0]!.feature}, W_U, all_digits: ${(-Math.log(1 - best[0]!.score)).toFixed(2)}`));
  t.throws(() => topFeaturesForSet(es, 'nope'), { message: /no token set "nope"/ });
});

test_setsOnly();
function test_setsOnly() {
  withModel('POS, name and word-list sets; set names are escaped in the SVG; bad sets are refused', async (t) => {
    const vocab = readTokenizerVocab(path.join(TINY_GPT2_DIR, 'tokenizer.json'));
    const pos = posTokenSets(vocab);
    t.true(pos.get('pos_DT')!.has(vocab.get('Ġthe')!));
    t.true(pos.get('pos_IN')!.has(vocab.get('Ġof')!));
    t.true(pos.get('pos_CD')!.has(vocab.get('1990')!));
    const names = nameTokenSets(vocab);
    t.true(names.get('boy_names')!.has(vocab.get('ĠJohn')!));
    t.true(names.get('girl_names')!.has(vocab.get('ĠMary')!));
    t.false(names.get('girl_names')!.has(vocab.get('ĠJohn')!));
    const tok = loadTokenizer(TINY_GPT2_DIR);
    const words = wordListTokenSets((s) => tok.encode(s), SAELENS_WORD_LISTS);
    t.true(words.get('colors')!.has(vocab.get('Ġred')!));
    t.is(words.size, Object.keys(SAELENS_WORD_LISTS).length);

    // Python semantics of the regexes: \w is Unicode, $ allows one trailing newline
    t.true(pythonMatchRegExp(String.raw`^Ġ*\w{2}$`).test('Ġéa'));
    t.false(/^Ġ*\w{2}$/.test('Ġéa'));
    t.true(pythonMatchRegExp(String.raw`\d+$`).test('12\n'));
    t.false(pythonMatchRegExp(String.raw`\d+`).test('a12'));
    t.true(pythonMatchRegExp(String.raw`^[^\w\s]+$`).test('!?'));
    t.false(pythonMatchRegExp(String.raw`^[^\w\s]+$`).test('!\x1c'));

    const rows = new Float32Array([3, 2, 1, 0, 0.5, 1.5, 2.5, -1]);
    const sets = new Map([['<img src=x onerror=alert(1)>', new Set([0, 1])]]);
    const es = enrichmentScoresFromRows(rows, 4, [7, 9], sets);
    // feature 7: the set is the top 2 of 4 -> 1; feature 9: ranks 2 and 1 -> hits at ranks 1,2 -> max |.| = 1/2
    t.deepEqual(Array.from(es.scores), [1, 0.5]);
    const svg = manhattanPlotSvg(es);
    t.false(svg.includes('<img'));
    t.true(svg.includes('&lt;img src=x onerror=alert(1)&gt;'));
    t.throws(() => enrichmentScoresFromRows(rows, 4, [7, 9], new Map([['empty', new Set<number>()]])), { message: /token set "empty" has 0 of 4 tokens/ });
    t.throws(() => enrichmentScoresFromRows(rows, 4, [7, 9], new Map([['big', new Set([9])]])), { message: /token id 9 is outside the vocabulary/ });
    t.throws(() => mergeTokenSets(sets, sets), { message: /defined twice/ });
  });
}
