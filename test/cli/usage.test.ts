/**
 * Bad usage and bad configs: each exits 2 with a readable message that names the field, flag
 * or file. Run through `main()` in this process (no tensors are touched before a config is
 * valid); a few cases also through the real bin in commands.test.ts.
 */
import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO, runMain } from './helpers.js';

const TOY = path.join(REPO, 'test/fixtures/cli/toy.yaml');
let tmp: string;

/** A config file in the temp folder. */
function file(name: string, text: string): string {
  const p = path.join(tmp, name);
  writeFileSync(p, text);
  return p;
}

test.before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'sae-rx-cli-usage-'));
});
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

interface Case {
  readonly title: string;
  readonly args: () => string[];
  /** Every pattern must appear in stderr. */
  readonly expect: readonly RegExp[];
}

const cases: readonly Case[] = [
  {
    title: 'unknown key in the config file, with a suggestion',
    args: () => ['train', file('unknown-key.yaml', 'kind: toy\nl1_coeficient: 0.1\nlog_to_wandb: false\n')],
    expect: [/l1_coeficient: unknown key; did you mean l1_coefficient\?/],
  },
  {
    title: 'wrong type',
    args: () => ['train', file('wrong-type.yaml', 'kind: toy\nn_hidden: four\n')],
    expect: [/n_hidden: expected a positive integer, got "four"/],
  },
  {
    title: 'bad enum value',
    args: () => ['train', file('bad-enum.yaml', 'kind: toy\nactivation_fn: gelu\n')],
    expect: [/activation_fn: expected one of "relu" \| "tanh-relu", got "gelu"/],
  },
  {
    title: 'negative value',
    args: () => ['train', file('negative.json', JSON.stringify({ kind: 'toy', l1_coefficient: -1 }))],
    expect: [/l1_coefficient: expected a number >= 0, got -1/],
  },
  {
    title: 'conflicting options',
    args: () => ['train', TOY, '--normalize-sae-decoder', 'true', '--decoder-heuristic-init'],
    expect: [/normalize_sae_decoder \/ decoder_heuristic_init/],
  },
  {
    title: 'several problems are listed together',
    args: () => ['train', file('many.yaml', 'kind: toy\nn_hidden: 0\nlr: fast\ntotal_training_tokenz: 5\n')],
    expect: [/3 problems/, /n_hidden:/, /lr:/, /total_training_tokenz: unknown key; did you mean total_training_tokens\?/],
  },
  {
    title: 'missing config file',
    args: () => ['train', path.join(tmp, 'nope.yaml')],
    expect: [/config file not found: .*nope\.yaml/],
  },
  {
    title: 'bad YAML',
    args: () => ['train', file('bad.yaml', 'kind: toy\nn_hidden: [1, 2\n')],
    expect: [/bad\.yaml: not valid YAML/],
  },
  {
    title: 'bad JSON',
    args: () => ['train', file('bad.json', '{"kind": "toy", n_hidden: 3}')],
    expect: [/bad\.json: not valid JSON/],
  },
  {
    title: 'a list at the top of the file',
    args: () => ['train', file('list.yaml', '- n_hidden: 3\n')],
    expect: [/expected a mapping of settings at the top level, got a list/],
  },
  {
    title: 'unknown command',
    args: () => ['trian', TOY],
    expect: [/unknown command "trian"; did you mean 'train'\?/],
  },
  {
    title: 'unknown flag of a command',
    args: () => ['hooks', 'somewhere', '--fitler', 'resid'],
    expect: [/unknown option --fitler for 'sae-rx hooks'; did you mean --filter\?/],
  },
  {
    title: 'unknown global flag',
    args: () => ['--jsno'],
    expect: [/unknown option --jsno; did you mean --json\?/],
  },
  {
    title: 'override of an unknown field, with a suggestion',
    args: () => ['train', TOY, '--l1-coefficent', '3'],
    expect: [/unknown option --l1-coefficent for 'sae-rx train'.*did you mean --l1-coefficient\?/],
  },
  {
    title: 'bad override value',
    args: () => ['train', TOY, '--l1-coefficient', 'abc'],
    expect: [/l1_coefficient: expected a number >= 0, got "abc"/],
  },
  {
    title: 'override that needs a value',
    args: () => ['train', TOY, '--lr'],
    expect: [/--lr needs a value \(lr: a positive number\)/],
  },
  {
    title: 'no- prefix on a field that is not a boolean',
    args: () => ['train', TOY, '--no-lr'],
    expect: [/lr is not a boolean field/],
  },
  {
    title: 'a list for a field that cannot be swept',
    args: () => ['train', TOY, '--n-hidden', '[2, 3]'],
    expect: [/n_hidden: expected a positive integer, got a list \[2,3\] \(this field cannot be swept\)/],
  },
  {
    title: 'a language-model sweep value that is wrong',
    args: () => ['train', file('lm.yaml', 'model_name: x/y\nl1_coefficient: [0.001, -2]\nlog_to_wandb: false\n')],
    expect: [/l1_coefficient\[1\]: expected a number >= 0, got -2/],
  },
  {
    title: 'bad --kind',
    args: () => ['train', TOY, '--kind', 'toi'],
    expect: [/--kind: unknown runner kind "toi"; expected one of .*did you mean toy\?/],
  },
  {
    title: '--kind against the file',
    args: () => ['train', TOY, '--kind', 'lm'],
    expect: [/--kind lm conflicts with kind "toy_model"/],
  },
  {
    title: 'missing CONFIG',
    args: () => ['train', '--no-progress'],
    expect: [/train needs a CONFIG file/],
  },
  {
    title: 'two CONFIG files',
    args: () => ['train', TOY, TOY],
    expect: [/train takes one CONFIG file, got 2 arguments/],
  },
  {
    title: 'flag that needs a value',
    args: () => ['train', TOY, '--out'],
    expect: [/--out needs a value \(DIR\)/],
  },
  {
    title: 'boolean flag given a value',
    args: () => ['--quiet=yes', 'models'],
    expect: [/--quiet takes no value/],
  },
  {
    title: '--resume on a command that does not train',
    args: () => ['report', tmp, '--resume', tmp],
    expect: [/--resume is for 'sae-rx train', not 'report'/],
  },
  {
    title: 'eval without --model',
    args: () => ['eval', tmp],
    expect: [/not an SAE folder \(no cfg\.json\)/],
  },
  {
    title: 'report of a folder without records',
    args: () => ['report', tmp],
    expect: [/no records\.jsonl/],
  },
  {
    title: 'cache config with a bad field',
    args: () => ['cache', file('cache.yaml', 'model_name: x/y\nn_shuffles_final: -3\n')],
    expect: [/n_shuffles_final: expected an integer >= 0, got -3/],
  },
  {
    title: 'no command',
    args: () => [],
    expect: [/Usage: sae-rx COMMAND/],
  },
];

for (const c of cases) {
  test(`exit 2: ${c.title}`, async (t) => {
    const r = await runMain(c.args());
    t.is(r.code, 2, r.stderr);
    for (const re of c.expect) t.regex(r.stderr, re);
    // readable: no stack trace without --debug
    t.notRegex(r.stderr, /\n\s+at /);
  });
}

test('a secret in a bad value is not printed', async (t) => {
  const token = 'hf_' + 'AbCdEfGhIjKlMnOpQrStUvWxYz01234567';
  const r = await runMain(['train', TOY, '--n-features', token], { env: { HF_TOKEN: token } });
  t.is(r.code, 2);
  t.regex(r.stderr, /n_features: expected a positive integer/);
  t.false(r.stderr.includes(token));
  t.false(r.stdout.includes(token));
});

test('--json: an error is also a JSON record on stdout; human text on stderr', async (t) => {
  const r = await runMain(['--json', 'train', TOY, '--l1-coefficient', '-5']);
  t.is(r.code, 2);
  const lines = r.stdout.trim().split('\n');
  t.is(lines.length, 1);
  const rec = JSON.parse(lines[0]!) as { type: string; exitCode: number; message: string };
  t.is(rec.type, 'error');
  t.is(rec.exitCode, 2);
  t.regex(rec.message, /l1_coefficient/);
  t.regex(r.stderr, /sae-rx: error: .*l1_coefficient/s);
});

test('--debug prints the stack of a failure', async (t) => {
  const r = await runMain(['--debug', 'train', path.join(tmp, 'nope.yaml')]);
  t.is(r.code, 2);
  t.regex(r.stderr, /UsageError: config file not found[\s\S]*\n\s+at /);
});

test('exit 1: a failing stage is named, with its cause and no stack', async (t) => {
  const run = path.join(tmp, 'broken-run');
  rmSync(run, { recursive: true, force: true });
  const { mkdirSync } = await import('node:fs');
  mkdirSync(run);
  writeFileSync(path.join(run, 'records.jsonl'), '{"type":"step"}\n');
  writeFileSync(path.join(run, 'config.json'), '{not json');
  const r = await runMain(['report', run]);
  t.is(r.code, 1);
  t.regex(r.stderr, /sae-rx: failed: writing the report: .*config\.json is not valid JSON/);
  t.regex(r.stderr, /run with --debug for the stack trace/);
  t.notRegex(r.stderr, /\n\s+at /);
});

test('exit 2: --resume checks the config first, needs an existing folder, and no other --out', async (t) => {
  const bad = await runMain(['train', TOY, '--resume', tmp, '--lr', '-1']);
  t.is(bad.code, 2);
  const missing = await runMain(['train', TOY, '--resume', path.join(tmp, 'no-such-run')]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /--resume .*no-such-run: no such folder/);
  const other = await runMain(['train', TOY, '--resume', tmp, '--out', path.join(tmp, 'elsewhere')]);
  t.is(other.code, 2);
  t.regex(other.stderr, /--out .* and --resume .* name different run folders/);
});

test('--help of each command exits 0 and lists its options', async (t) => {
  for (const [cmd, re] of [
    ['cache', /--n-shuffles-final\s+an integer >= 0\s+default 100/],
    ['eval', /--batches N/],
    ['report', /--out FILE/],
    ['models', /Usage: sae-rx models/],
    ['hooks', /--filter TEXT/],
    ['pretrained', /--revision REV/],
  ] as const) {
    const r = await runMain([cmd, '--help']);
    t.is(r.code, 0, cmd);
    t.regex(r.stdout, re, cmd);
    t.regex(r.stdout, /--no-progress/, cmd);
  }
});

test('--dry-run prints the decoded config (YAML that decodes again) and the SAEs of a sweep; --json as a record', async (t) => {
  const r = await runMain(['train', TOY, '--dry-run', '--lr', '0.01']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^kind: toy_model$/m);
  t.regex(r.stdout, /^lr: 0\.01$/m);
  t.regex(r.stdout, /^adam_beta1: 0\.9$/m); // a default filled in
  const again = path.join(tmp, 'dry.yaml');
  writeFileSync(again, r.stdout);
  t.is((await runMain(['train', again, '--dry-run'])).code, 0);

  const lm = file('lm-ok.yaml', 'model_name: owner/model\nd_in: 64\nlog_to_wandb: false\n');
  const j = await runMain(['--json', 'train', lm, '--dry-run', '--l1-coefficient', '1e-3,5e-3', '--expansion-factor', '2,4']);
  t.is(j.code, 0, j.stderr);
  const rec = JSON.parse(j.stdout) as { type: string; kind: string; config: Record<string, unknown>; saes: string[] };
  t.is(rec.type, 'config');
  t.is(rec.kind, 'language_model');
  t.deepEqual(rec.config.l1_coefficient, [0.001, 0.005]);
  t.is(rec.saes.length, 4);
  t.is(rec.config.context_size, 128);

  const c = await runMain(['cache', file('cache-ok.yaml', 'model_name: owner/model\nhook_point: blocks.0.hook_mlp_out\n'), '--dry-run']);
  t.is(c.code, 0, c.stderr);
  t.regex(c.stdout, /^new_cached_activations_path: activations\//m);
});

test('the example configs (examples/configs/*.yaml) decode', async (t) => {
  const dir = path.join(REPO, 'examples/configs');
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f)) : [];
  t.true(files.length > 0, `no example configs in ${dir}`);
  for (const f of files) {
    const r = await runMain([/cache/.test(f) ? 'cache' : 'train', path.join(dir, f), '--dry-run']);
    t.is(r.code, 0, `${f}: ${r.stderr}`);
  }
});

test('--version', async (t) => {
  const r = await runMain(['--version']);
  t.is(r.code, 0);
  t.regex(r.stdout, /^sae-rx \d+\.\d+\.\d+/);
});
