/**
 * One SaeTrainer step per SAE architecture (src/sae/architectures/registry.ts) at
 * (768, 12288, batch 4096): `archStep/<architecture>/768x12288x4096` lines with median ms/step,
 * tokens/s and the step's L0. Each SAE starts from its architecture's init with SAELens 6's
 * defaults (k 100; matryoshka widths 768, 3072, 12288); the trainer runs as a user's would
 * (sparse step 'auto', default chunking). A dense step the trainer refuses as too large for the
 * wasm heap (batch-wide top-k without the sparse step) gives a `refused` line. `--quick`: (512, 4096, 1024).
 *
 * Run alone: `npx tsx bench/archStep.ts [--quick] [--filter topk]`; `npm run bench` calls it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/backend/index.js';
import { tableDefaults } from '../src/config/fields.js';
import { ConfigError } from '../src/errors.js';
import { ARCHITECTURES } from '../src/sae/architectures/registry.js';
import { Sae } from '../src/sae/Sae.js';
import { DEFAULT_SAE_CONFIG, type SaeConfig } from '../src/sae/SaeConfig.js';
import { SaeTrainer } from '../src/train/SaeTrainer.js';
import { DEFAULT_TRAINER_CONFIG } from '../src/train/TrainerConfig.js';
import { median } from './stats.js';

export interface ArchStepBenchOptions {
  quick?: boolean;
  /** Only architectures whose line name contains this. */
  filter?: string;
  emit?: (line: object) => void;
}

function benchConfig(name: string, dIn: number, dSae: number): SaeConfig {
  const arch = ARCHITECTURES.find((a) => a.name === name)!;
  if (name === 'standard') return { ...DEFAULT_SAE_CONFIG, dIn, dSae, bDecInitMethod: 'zeros' };
  const fields: Record<string, unknown> = { ...tableDefaults(arch.fields) };
  if (name === 'matryoshka_batchtopk') fields['matryoshka_widths'] = [dSae / 16, dSae / 4, dSae];
  return { ...DEFAULT_SAE_CONFIG, architecture: name, dIn, dSae, normalizeSaeDecoder: false, bDecInitMethod: 'zeros', archFields: fields };
}

export async function benchArchStep(opts: ArchStepBenchOptions = {}): Promise<object[]> {
  await selectBackend({ log: () => {} });
  const [dIn, dSae, batch] = opts.quick ? [512, 4096, 1024] : [768, 12288, 4096];
  const out: object[] = [];
  for (const arch of ARCHITECTURES) {
    const name = `archStep/${arch.name}/${dIn}x${dSae}x${batch}`;
    if (opts.filter !== undefined && !name.includes(opts.filter)) continue;
    const sae = Sae.create(benchConfig(arch.name, dIn, dSae), { seed: 1 });
    const tr = new SaeTrainer(sae, { ...DEFAULT_TRAINER_CONFIG, lrWarmUpSteps: 0, trainBatchSize: batch, totalTrainingSteps: 1000 });
    const x = tf.randomNormal([batch, dIn], 0, 1, 'float32', 3) as tf.Tensor2D;
    const ts: number[] = [];
    const l0s: number[] = [];
    const steps = opts.quick ? 3 : 2;
    let refused: string | undefined;
    try {
      for (let i = 0; i < 1 + steps; i++) {
        const t0 = performance.now();
        const m = tr.step(x);
        if (i >= 1) {
          ts.push(performance.now() - t0);
          l0s.push(+m.l0.toFixed(1));
        }
      }
    } catch (e) {
      // a dense step too large for the heap is refused before allocation (SaeTrainer): report it, go on
      if (!(e instanceof ConfigError)) throw e;
      refused = e.message;
    } finally {
      x.dispose();
      tr.dispose();
      sae.dispose();
    }
    if (refused !== undefined) {
      const line = { bench: 'archStep', name, backend: tf.getBackend(), architecture: arch.name, dIn, dSae, batch, refused };
      opts.emit?.(line);
      out.push(line);
      continue;
    }
    const ms = median(ts);
    const line = {
      bench: 'archStep', name, backend: tf.getBackend(), architecture: arch.name, dIn, dSae, batch, steps: ts.length,
      msPerStep: Math.round(ms), msPerStepAll: ts.map(Math.round), tokensPerSec: Math.round((batch * 1000) / ms), l0: l0s,
      loadavg: (await import('node:os')).loadavg().map((v) => +v.toFixed(2)),
    };
    opts.emit?.(line);
    out.push(line);
  }
  return out;
}

// Run directly: print JSON lines.
if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  const fi = process.argv.indexOf('--filter');
  benchArchStep({ quick, ...(fi > 0 ? { filter: process.argv[fi + 1]! } : {}), emit: (l) => console.log(JSON.stringify(l)) }).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
