/**
 * The README's library snippet, runnable: the operators composed by hand (no runner) on the
 * tiny GPT-2 in `../shared/models/tiny-gpt2-sotu` over Jane Austen (`../shared/data`).
 *
 *   documents → packContext → modelActivations → mixingBuffer → normalizeActivations
 *     → batch → trainSae → sinks(console, jsonl)
 *
 * `npm run example -- pipeline [--quick] [--runs DIR]`. Skips with a message when `../shared` is absent.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { lastValueFrom, tap } from 'rxjs';
import {
  DEFAULT_SAE_CONFIG,
  DEFAULT_TRAINER_CONFIG,
  HookedTransformer,
  batch,
  consoleSink,
  jsonlSink,
  loadTokenizer,
  localDocuments,
  mixingBuffer,
  modelActivations,
  normalizeActivations,
  packContext,
  selectBackend,
  sinks,
  trainSae,
} from '../src/index.js';

export const description = 'the README snippet: operators composed by hand on the tiny GPT-2 over Austen';

export async function main(args: string[] = []): Promise<void> {
  const modelDir = path.resolve('../shared/models/tiny-gpt2-sotu');
  const text = path.resolve('../shared/data/austen.txt');
  if (!fs.existsSync(modelDir) || !fs.existsSync(text)) {
    process.stdout.write(`pipeline example skipped: ${modelDir} or ${text} is absent (they ship in ../shared)\n`);
    return;
  }
  const steps = args.includes('--quick') ? 40 : 600;
  const runsAt = args.indexOf('--runs');
  const runsDir = runsAt >= 0 && args[runsAt + 1] ? args[runsAt + 1]! : 'runs';
  const runDir = path.resolve(runsDir, `pipeline-${new Date().toISOString().replace(/[:.]/g, '-')}`);

  // one short line, as the CLI prints
  console.error(`sae-rx: tfjs backend '${(await selectBackend({ log: () => {} })).name}'`);
  const model = await HookedTransformer.fromFolder(modelDir);
  const tokenizer = loadTokenizer(modelDir);
  try {
    // `tap` hands every record, the error and the completion to the sinks; lastValueFrom runs it.
    await lastValueFrom(
      localDocuments(text).pipe(
        packContext({ contextSize: 128, prependBos: true, tokenizer, storeBatchSize: 8 }),
        modelActivations(model, { hooks: ['blocks.1.hook_resid_pre'] }),
        mixingBuffer({ batchesInBuffer: 16, storeBatchSize: 8 * 128, seed: 42 }),
        normalizeActivations('expected_average_only_in', { estimationTokens: 8192 }),
        batch(1024),
        trainSae(
          {
            sae: { ...DEFAULT_SAE_CONFIG, dIn: 128, dSae: 1024, hookPoint: 'blocks.1.hook_resid_pre' },
            trainer: { ...DEFAULT_TRAINER_CONFIG, trainBatchSize: 1024, totalTrainingSteps: steps, l1Coefficient: 5, lrWarmUpSteps: 20 },
          },
          { checkpointPath: runDir, nCheckpoints: 2 },
        ),
        tap(sinks(consoleSink({ totalSteps: steps }), jsonlSink(path.join(runDir, 'records.jsonl')))),
      ),
    );
    process.stdout.write(`run folder: ${runDir}\n`);
  } finally {
    model.dispose();
  }
}
