/**
 * Transcoders from the CLI, as a user drives it: `sae-rx train` on a transcoder config (a
 * SAELens 6 runner config with `sae: { architecture: topk_transcoder, hook_name_out, d_out }`)
 * over the tiny GPT-2, then `sae-rx eval` on the saved folder: the folder says it is a
 * transcoder (SAELens 6 layout, metadata.hook_name_out) and the eval splices its output into
 * the target hook (fvu, CE loss recovered).
 */
import test from 'ava';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { jsonLines, spawnCli } from './helpers.js';
import { titled } from '../helpers/skip.js';
import { tempDir } from '../helpers/tempDir.js';

const SHARED = path.resolve('../shared');
const GPT2 = path.join(SHARED, 'models/tiny-gpt2-sotu');
const AUSTEN = path.join(SHARED, 'data/austen.txt');
const haveGpt2 = existsSync(path.join(GPT2, 'model.safetensors')) && existsSync(AUSTEN);

(haveGpt2 ? test : test.skip)(titled('train a transcoder (SAELens 6 config), then eval the saved folder with its output in hook_mlp_out', haveGpt2 ? undefined : `${GPT2} absent (needs ../shared)`), async (t) => {
  const tmp = tempDir(t, 'sae-rx-cli-tc-');
  const cfg = path.join(tmp, 'transcoder.yaml');
  writeFileSync(cfg, [
    `model_name: ${GPT2}`, 'hook_name: blocks.1.ln2.hook_normalized', `dataset_path: ${AUSTEN}`, 'is_dataset_tokenized: false',
    'context_size: 32', 'store_batch_size_prompts: 4', 'n_batches_in_buffer: 4', 'train_batch_size_tokens: 256', 'training_tokens: 5120',
    'lr: 0.002', 'seed: 7',
    'sae:', '  architecture: topk_transcoder', '  d_in: 128', '  d_sae: 256', '  k: 8', '  d_out: 128', '  hook_name_out: blocks.1.hook_mlp_out', '  apply_b_dec_to_input: false',
    'logger:', '  log_to_wandb: false', '',
  ].join('\n'));
  const out = path.join(tmp, 'run');
  const r = await spawnCli(['train', cfg, '--json', '--no-progress', '--out', out], { timeoutMs: 600_000 });
  t.is(r.code, 0, r.stderr);
  const recs = jsonLines(r.stdout);
  t.is(recs.filter((x) => x.type === 'step').length, 20);
  const result = recs[recs.length - 1] as { type: string; saes: Array<{ path: string; tokens: number }> };
  const dir = result.saes[0]!.path;
  const saved = JSON.parse(readFileSync(path.join(dir, 'cfg.json'), 'utf8')) as { architecture: string; d_out: number; metadata: Record<string, unknown> };
  t.is(saved.architecture, 'topk_transcoder');
  t.is(saved.d_out, 128);
  t.is(saved.metadata['hook_name'], 'blocks.1.ln2.hook_normalized');
  t.is(saved.metadata['hook_name_out'], 'blocks.1.hook_mlp_out');

  const e = await spawnCli(['--json', 'eval', dir, '--model', GPT2, '--dataset', AUSTEN, '--batches', '1', '--batch-size', '2'], { timeoutMs: 300_000 });
  t.is(e.code, 0, e.stderr);
  const rec = jsonLines(e.stdout)[0] as { type: string; metrics: Record<string, number> };
  t.is(rec.type, 'eval');
  const m = rec.metrics;
  t.log(`after 20 steps: fvu ${m.fvu}, CE loss recovered ${m.ce_loss_score} (clean ${m.ce_loss_without_sae}, spliced ${m.ce_loss_with_sae}, hook_mlp_out zero-ablated ${m.ce_loss_with_ablation})`);
  for (const k of ['fvu', 'ce_loss_score', 'kl_div', 'l0', 'dead_feature_fraction']) t.true(Number.isFinite(m[k]), `${k} ${m[k]}`);
  t.is(m.l0, 8, 'TopK keeps k latents per token');
  // 20 steps already explain part of the MLP's output; zero-ablating hook_mlp_out is what is compared
  t.true(m.fvu! < 1, `fvu ${m.fvu}`);
  t.true(m.ce_loss_with_ablation! > m.ce_loss_without_sae!, 'ablating the MLP output hurts the clean loss');
});
