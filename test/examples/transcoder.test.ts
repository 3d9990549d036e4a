/**
 * examples/transcoder.ts (quick mode: 40 steps): a topk_transcoder for layer 1's MLP of the tiny
 * GPT-2 trains through the LM runner, its saved folder loads and is evaluated with its output
 * spliced into blocks.1.hook_mlp_out; FVU and CE loss recovered clear the bars measured for this
 * seed (with margin).
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setupTf } from '../helpers/tf.js';
import { tempDir } from '../helpers/tempDir.js';
import { titled } from '../helpers/skip.js';
import { MODEL_DIR } from '../../examples/lm.js';
import { runTranscoder } from '../../examples/transcoder.js';

test.before(async () => {
  await setupTf();
});

const have = fs.existsSync(path.join(MODEL_DIR, 'model.safetensors'));
(have ? test.serial : test.skip)(titled('examples/transcoder.ts (quick): FVU and CE loss recovered of the saved transcoder; no tensor left', have ? undefined : `${MODEL_DIR} absent (needs ../shared)`), async (t) => {
  const runsDir = tempDir(t, 'transcoder-example-');
  const before = tf.memory().numTensors;
  const r = await runTranscoder({ quick: true, runsDir, verbose: false });
  t.is(tf.memory().numTensors, before);
  const e = r!.evals;
  t.log(`quick (40 steps): fvu ${e.fvu}, CE loss recovered ${e.ce_loss_score} (clean ${e.ce_loss_without_sae}, spliced ${e.ce_loss_with_sae}, ablated ${e.ce_loss_with_ablation}), L0 ${e.l0}`);
  t.is(e.l0, 16, 'k = 16 latents per token');
  t.true(e.fvu! < FVU_BAR, `fvu ${e.fvu} (bar ${FVU_BAR})`);
  t.true(e.ce_loss_score! > CE_BAR, `CE loss recovered ${e.ce_loss_score} (bar ${CE_BAR})`);
  const tc = r!.summary.saes[0]!;
  const cfg = JSON.parse(fs.readFileSync(path.join(tc.path!, 'cfg.json'), 'utf8')) as { architecture: string; metadata: Record<string, unknown> };
  t.is(cfg.architecture, 'topk_transcoder');
  t.is(cfg.metadata['hook_name_out'], 'blocks.1.hook_mlp_out');
});

// measured for seed 42, quick mode (see the README's transcoder section), with margin
const FVU_BAR = 0.25; // measured 0.1667 (load average 14–20)
const CE_BAR = 0.6; // measured 0.793
