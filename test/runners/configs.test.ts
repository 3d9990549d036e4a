import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setupTf } from '../helpers/tf.js';
import { decodeRunnerConfig } from '../../src/config/runnerConfig.js';
import { loadConfigFile } from '../../src/config/files.js';
import { languageModelRunner } from '../../src/runners/languageModelRunner.js';
import { ConfigError } from '../../src/errors.js';
import { toyConfig } from '../../examples/toy.js';

const HAVE = fs.existsSync('../shared/models/tiny-gpt2-sotu/model.safetensors') && fs.existsSync('../shared/data/austen.txt');
if (!HAVE) console.log('skipping the lm.yaml run: ../shared is absent');

let tmp: string;
test.before(async () => {
  await setupTf();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sae-rx-configs-'));
});
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('examples/configs/toy.yaml decodes to the toy example\'s settings', async (t) => {
  const file = decodeRunnerConfig(await loadConfigFile('examples/configs/toy.yaml'), 'toy_model');
  const example = decodeRunnerConfig(toyConfig(false), 'toy_model');
  t.deepEqual({ ...file, checkpoint_path: '' }, { ...example, checkpoint_path: '' });
});

test('examples/configs/lm.yaml decodes: one SAE of 1024 features on blocks.1.hook_resid_pre', async (t) => {
  const cfg = decodeRunnerConfig(await loadConfigFile('examples/configs/lm.yaml'));
  t.is(cfg.hook_point, 'blocks.1.hook_resid_pre');
  t.is(cfg.d_sae, 1024);
  t.is(cfg.total_training_steps, Math.floor(1_000_000 / 1024));
});

(HAVE ? test.serial : test.skip)('examples/configs/lm.yaml trains (a few steps) from the local model folder and austen.txt', async (t) => {
  const before = tf.memory().numTensors;
  const raw = { ...(await loadConfigFile('examples/configs/lm.yaml')), training_tokens: 8 * 1024, n_checkpoints: 0, wandb_id: 'yaml', checkpoint_path: tmp };
  const s = await languageModelRunner(decodeRunnerConfig(raw), { console: false, log: () => {}, handleSignals: false, report: false }).run();
  t.is(s.saes[0]!.steps, 8);
  t.is(s.saes[0]!.saeId, 'tiny-gpt2-sotu_blocks.1.hook_resid_pre_1024'); // nothing swept: no trailing "_"
  t.true(fs.existsSync(path.join(s.saes[0]!.path!, 'cfg.json')));
  t.is(tf.memory().numTensors, before);
});

test('unsupported runner settings are ConfigErrors at construction, naming the field', (t) => {
  const base = { model_name: 'owner/model', hook_point: 'blocks.0.hook_resid_pre', d_in: 16, log_to_wandb: false, wandb_id: 'x', checkpoint_path: tmp };
  t.throws(() => languageModelRunner(decodeRunnerConfig({ ...base, from_pretrained_path: 'some/sae' })), { instanceOf: ConfigError, message: /^from_pretrained_path/ });
  t.throws(() => languageModelRunner(decodeRunnerConfig({ ...base, model_class_name: 'HookedMamba' })), { instanceOf: ConfigError, message: /^model_class_name: HookedMamba/ });
});
