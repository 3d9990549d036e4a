/**
 * The CLI with SAE architectures: a SAELens 6 runner config (nested `sae:` block) decodes and
 * prints under --dry-run; `--architecture` and architecture fields as flags; a field of another
 * architecture exits 2 naming which; `train --help` lists each architecture with its fields.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runMain } from './helpers.js';

let tmp: string;
test.before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sae-rx-cli-arch-'));
});
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

const file = (name: string, text: string) => {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, text);
  return p;
};

test('a SAELens 6 runner config (sae: block, logger:) decodes: --dry-run prints the architecture and its fields', async (t) => {
  const cfg = file('saelens6.yaml', [
    'model_name: tiny-stories-1M', 'hook_name: blocks.1.hook_resid_post', 'dataset_path: x/y', 'context_size: 64',
    'train_batch_size_tokens: 1024', 'training_tokens: 40960',
    'sae:', '  architecture: batchtopk', '  d_in: 64', '  d_sae: 256', '  k: 16',
    'logger:', '  log_to_wandb: false', '',
  ].join('\n'));
  const r = await runMain(['train', cfg, '--dry-run']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /architecture: batchtopk/);
  t.regex(r.stdout, /\bk: 16/);
  t.regex(r.stdout, /topk_threshold_lr: 0.01/);
  t.regex(r.stdout, /hook_point: blocks.1.hook_resid_post/);
});

test('flags set the architecture and its fields; a field of another architecture exits 2 naming which', async (t) => {
  const toy = file('toy.yaml', 'n_features: 6\nn_hidden: 3\nd_sae: 12\nlog_to_wandb: false\n');
  const ok = await runMain(['train', toy, '--dry-run', '--architecture', 'topk', '--k', '3']);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, /architecture: topk/);
  const bad = await runMain(['train', toy, '--dry-run', '--architecture', 'topk', '--k', '3', '--topk-threshold-lr', '0.1', '--use-ghost-grads']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /topk_threshold_lr: is a field of architecture 'batchtopk', 'matryoshka_batchtopk', 'batchtopk_transcoder', 'batchtopk_skip_transcoder', not of 'topk'/);
  t.regex(bad.stderr, /use_ghost_grads: is a field of architecture 'standard'/);
});

test('train --help lists every architecture with its fields and defaults', async (t) => {
  const r = await runMain(['train', '--help']);
  t.is(r.code, 0);
  for (const name of ['standard', 'standard_v6', 'topk', 'batchtopk', 'matryoshka_batchtopk']) t.regex(r.stdout, new RegExp(`\\n  ${name}: `));
  t.regex(r.stdout, /--topk-threshold-lr\s+a number in \(0, 1\]\s+default 0.01/);
  t.regex(r.stdout, /--matryoshka-widths/);
});
