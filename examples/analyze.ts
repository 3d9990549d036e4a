/**
 * After training: a session (SAE + the model + an activation source from the SAE's config),
 * the SAE's feature statistics and a token set enrichment analysis, offline:
 *
 *   npm run example -- analyze [SAE_DIR] [--model DIR] [--dataset FILE] [--out DIR]
 *
 * Defaults: the small SAE of test/fixtures/analysis/sae (trained on the tiny GPT-2's
 * blocks.1.hook_resid_pre), the tiny GPT-2 of ../shared and Austen's text. Writes into
 * ./runs/analyze-<timestamp>/: feature_stats.jsonl (per feature: log density, encoder/decoder
 * projection, b_enc, b_dec projection, dead, the moments of W_dec·W_U and its top/bottom
 * tokens), tsea_manhattan.svg and tsea_top_features.svg; prints a summary.
 * With RELEASE SAE_ID instead of SAE_DIR, the SAE comes from the pretrained registry.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { firstValueFrom, take } from 'rxjs';
import * as tf from '@tensorflow/tfjs-core';
import {
  decoderLogitProjection, enrichmentScores, featureProjectionsSvg, featureProperties, letterTokenSets, loadSession,
  logitWeightStats, manhattanPlotSvg, mergeTokenSets, readTokenizerVocab, regexTokenSets, selectBackend, topFeaturesForSet,
} from '../src/index.js';

export const description = 'feature statistics and TSEA of an SAE, through loadSession (offline)';

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
}

export async function main(argv: string[]): Promise<void> {
  const args = [...argv];
  const model = flag(args, 'model') ?? path.resolve('../shared/models/tiny-gpt2-sotu');
  const dataset = flag(args, 'dataset') ?? path.resolve('../shared/data/austen.txt');
  const out = flag(args, 'out') ?? path.join('runs', `analyze-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  if (!fs.existsSync(path.join(model, 'config.json')) && !model.includes('/')) {
    console.log(`skipped: no model at ${model} (needs ../shared or --model)`);
    return;
  }
  await selectBackend({ log: () => {} });
  const spec = args.length >= 2 ? { release: args[0]!, saeId: args[1]! } : { folder: args[0] ?? 'test/fixtures/analysis/sae' };
  const s = await loadSession(spec, { model, datasetPath: dataset, storeBatchSize: 4 });
  const wU = s.model.unembedWeights();
  try {
    const { sae, sparsity } = s.saes[0]!;
    console.log(`SAE ${sae.cfg.hookPoint}, d_sae ${sae.cfg.dSae}; model ${s.settings.modelName}; context ${s.settings.contextSize}, BOS ${s.settings.prependBos}`);
    // one batch of the session's activations: the SAE's L0 on it
    const batch = await firstValueFrom(s.activations().pipe(take(1)));
    const l0 = tf.tidy(() => tf.mean(tf.sum(tf.cast(tf.greater(sae.encode(batch.acts as tf.Tensor2D), 0), 'float32'), 1)).dataSync()[0]!);
    batch.acts.dispose();
    console.log(`L0 on ${batch.tokens?.length ?? 0} tokens of ${path.basename(dataset)}: ${l0.toFixed(2)}`);

    const props = featureProperties(sae, sparsity ?? new Float32Array(sae.cfg.dSae).fill(-10));
    const stats = logitWeightStats(sae.W_dec, wU, { topK: 5 });
    const decode = (ids: Int32Array) => s.tokenizer.decodeEach(Array.from(ids));
    fs.mkdirSync(out, { recursive: true });
    const lines: string[] = [];
    for (let f = 0; f < sae.cfg.dSae; f++) {
      lines.push(
        JSON.stringify({
          feature: f, log_feature_sparsity: props.logFeatureSparsity[f], d_e_projection: props.dEProjection[f], b_enc: props.bEnc[f],
          b_dec_projection: props.bDecProjection[f], dead: props.dead[f] === 1, mean: stats.mean[f], std: stats.std[f],
          skewness: stats.skewness[f], kurtosis: stats.kurtosis[f], top_tokens: decode(stats.topTokens[f]!), bottom_tokens: decode(stats.bottomTokens[f]!),
        }),
      );
    }
    fs.writeFileSync(path.join(out, 'feature_stats.jsonl'), lines.join('\n') + '\n');
    const bySkew = Array.from(stats.skewness.keys()).sort((a, b) => stats.skewness[b]! - stats.skewness[a]!).slice(0, 3);
    for (const f of bySkew) console.log(`feature ${f}: skewness ${stats.skewness[f]!.toFixed(2)}, kurtosis ${stats.kurtosis[f]!.toFixed(2)}, promotes ${JSON.stringify(decode(stats.topTokens[f]!))}`);

    const vocab = readTokenizerVocab(path.join(s.modelDir, 'tokenizer.json'));
    const sets = mergeTokenSets(letterTokenSets(vocab), regexTokenSets(vocab));
    const features = Array.from({ length: sae.cfg.dSae }, (_, i) => i);
    const es = enrichmentScores(sae.W_dec, wU, features, sets);
    fs.writeFileSync(path.join(out, 'tsea_manhattan.svg'), manhattanPlotSvg(es));
    const top = topFeaturesForSet(es, 'starts_with_space', 3);
    const rows = decoderLogitProjection(sae.W_dec, wU, top.map((t) => t.feature));
    fs.writeFileSync(
      path.join(out, 'tsea_top_features.svg'),
      featureProjectionsSvg({ es, category: 'starts_with_space', setIds: sets.get('starts_with_space')!, rows, rowFeatures: top.map((t) => t.feature), vocab: wU.shape[1] }),
    );
    console.log(`TSEA: ${es.setNames.length} token sets × ${features.length} features; most enriched for starts_with_space: ${top.map((t) => `${t.feature} (${t.score.toFixed(3)})`).join(', ')}`);
    console.log(`wrote ${out}/feature_stats.jsonl, tsea_manhattan.svg, tsea_top_features.svg`);
  } finally {
    wU.dispose();
    s.dispose();
  }
}
