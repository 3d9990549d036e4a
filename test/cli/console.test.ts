/**
 * What `sae-rx` prints (issue 11, item 8): each warning once, one tokens/s figure that says
 * what it measures, SAE ids without a trailing '_', command help without other commands' flags.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { COMMANDS } from '../../src/cli/commands/index.js';
import { decodeRunnerConfig } from '../../src/config/runnerConfig.js';
import { runnerSingles } from '../../src/runners/runnerSingles.js';
import { REPO, runMain } from './helpers.js';

const TOY = path.join(REPO, 'test/fixtures/cli/toy.yaml');
let tmp: string;
test.before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sae-rx-console-'));
});
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

test.serial('a training warning is printed once; the summary has one tokens/s figure saying what it measures', async (t) => {
  // an exploding run, allowed to go on: one warning record
  const r = await runMain(['train', TOY, '--out', path.join(tmp, 'run'), '--lr', '1e30', '--allow-nan', '--total-training-tokens', '5120']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr.match(/the loss is NaN/g)?.length, 1, r.stderr);
  const all = `${r.stdout}\n${r.stderr}`;
  const figures = all.match(/\d+ (tok|tokens)\/s[^\n]*/g) ?? [];
  t.true(figures.length >= 1, all);
  t.true(figures.every((f) => /tokens\/s trained|tokens\/s \(activation rows trained per second, first to last step/.test(f)), figures.join('\n'));
  t.regex(r.stdout, /training: \d+ tokens\/s \(activation rows trained per second, first to last step, [\d.]+ s\); [\d.]+ s in all with set-up/);
});

test('SAE ids have no trailing underscore when nothing is swept', (t) => {
  const cfg = decodeRunnerConfig({ model_name: 'gpt2', hook_point: 'blocks.0.hook_mlp_out', d_in: 8, expansion_factor: 2, wandb_id: 'x' }, 'language_model');
  t.is(runnerSingles(cfg)[0]!.sae_id, 'gpt2_blocks.0.hook_mlp_out_16');
});

test("a command's help lists its flags and the global ones, not other commands' flags", async (t) => {
  for (const c of COMMANDS) {
    const h = await runMain([c.name, '--help']);
    t.is(h.code, 0, c.name);
    // the option sections (config-field sections of train/cache list fields, not flags)
    const options = [...h.stdout.matchAll(/^(?:Options|Global options):\n((?:  .*\n)+)/gm)].map((m) => m[1]).join('');
    t.regex(options, /--help/, c.name);
    if (c.name === 'train') t.regex(options, /--resume DIR/);
    else t.notRegex(options, /--resume/, `${c.name} --help shows train's --resume`);
    for (const other of COMMANDS) {
      if (other === c) continue;
      for (const f of other.flags) if (!c.flags.some((g) => g.name === f.name)) t.notRegex(options, new RegExp(`--${f.name}\\b`), `${c.name} --help shows ${other.name}'s --${f.name}`);
    }
  }
});
