/**
 * Trains the SAE that the demo page's second part explores, and writes it to
 * `examples/browser/sae-tiny-gpt2/` (committed: 256 latents on the tiny GPT-2's
 * `blocks.1.hook_resid_pre`, about 260 kB). The folder is committed rather than trained on the
 * demo's first start so that `npm run demo` and its browser test start at once and see the same
 * SAE every time; this script is how it was made (seeded, offline, about a minute on 2 cores):
 *
 *   npx tsx examples/browser/trainDemoSae.ts
 *
 * It is examples/lm.ts's runner config (SOTU speeches, SAELens field names) with a 2× expansion.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeRunnerConfig, fromPull, languageModelRunner } from '../../src/index.js';
import { MODEL_DIR, lmConfig, sotuDocuments } from '../lm.js';

export const DEMO_SAE_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'sae-tiny-gpt2');
const FILES = ['cfg.json', 'sae_weights.safetensors', 'sparsity.safetensors'];

export async function trainDemoSae(outDir = DEMO_SAE_DIR): Promise<void> {
  if (!fs.existsSync(path.join(MODEL_DIR, 'model.safetensors'))) {
    throw new Error(`trainDemoSae: the tiny GPT-2 ${MODEL_DIR} is absent (it ships in ../shared, next to the clone)`);
  }
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sae-rx-demo-sae-'));
  try {
    const cfg = decodeRunnerConfig({ ...lmConfig(false), expansion_factor: 2, training_tokens: 300 * 1024, wandb_id: 'demo' });
    const docs = sotuDocuments();
    const s = await languageModelRunner(cfg, { runDir, documents: fromPull(() => docs), console: false, logEvery: 10, finalEvalBatches: 1 }).run();
    const sae = s.saes[0];
    if (!sae?.path) throw new Error(`trainDemoSae: the SAE was not written${s.warnings.length ? ` (${s.warnings.join('; ')})` : ''}`);
    fs.mkdirSync(outDir, { recursive: true });
    for (const f of FILES) fs.copyFileSync(path.join(sae.path, f), path.join(outDir, f));
    const l = sae.last;
    process.stdout.write(
      `demo SAE written to ${outDir}: d_sae ${cfg.d_sae}, ${sae.steps} steps; final L0 ${l?.l0.toFixed(1)}, explained variance ${l?.explainedVarianceMean.toFixed(3)}, ` +
        `dead ${l?.deadFeatures}; CE loss score ${sae.evals?.ce_loss_score?.toFixed(3)}\n`,
    );
  } finally {
    fs.rmSync(runDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  trainDemoSae().catch((e) => {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(1);
  });
}
