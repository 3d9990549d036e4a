/**
 * Checkpoints are durable at their step (DESIGN.md §6): `sae-rx train` on a language model (the
 * tiny GPT-2 on Jane Austen), killed with SIGKILL at several points after a checkpoint was due,
 * resumes each time from that checkpoint, and the last resumed run finishes: every step logged
 * once, no temporary folder left, a report without the killed runs' failures.
 */
import test from 'ava';
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BIN, REPO } from './helpers.js';

const MODEL = path.resolve(REPO, '../shared/models/tiny-gpt2-sotu');
const TEXT = path.resolve(REPO, '../shared/data/austen.txt');
const HAVE = fs.existsSync(path.join(MODEL, 'model.safetensors')) && fs.existsSync(TEXT);
if (!HAVE) console.log(`skipping the kill -9 test: ${MODEL} or ${TEXT} is absent`);

let tmp: string;
test.before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sae-rx-kill-'));
});
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

// 100 steps of 128 tokens; n_checkpoints 4: checkpoints once the tokens pass 3200, 6400, 9600,
// i.e. after step records 25, 50, 75 (folders 3328, 6528, 9728), then final_12800.
const CONFIG = `kind: lm
model_name: ${MODEL}
hook_point: blocks.0.hook_resid_post
hook_point_layer: 0
d_in: 128
d_sae: 256
dataset_path: ${TEXT}
is_dataset_tokenized: false
context_size: 32
n_batches_in_buffer: 8
store_batch_size: 8
train_batch_size: 128
training_tokens: 12800
l1_coefficient: 1
lr: 1.0e-3
lr_warm_up_steps: 5
n_checkpoints: 4
log_to_wandb: false
seed: 1
`;

interface Killed {
  readonly lastStep: number;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

/** Runs `sae-rx --json train …` and SIGKILLs it the moment `when` says so about a record. */
function killWhen(args: readonly string[], when: (r: { type: string; step?: number; tokens?: number }) => boolean): Promise<Killed> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [BIN, '--json', 'train', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    let stderr = '';
    let lastStep = -1;
    let killed = false;
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) {
        if (killed || !l.startsWith('{')) continue;
        const r = JSON.parse(l) as { type: string; step?: number };
        if (r.type === 'step') lastStep = r.step!;
        if (when(r)) {
          killed = true;
          child.kill('SIGKILL');
        }
      }
    });
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      clearTimeout(timer);
      if (!killed) reject(new Error(`the run ended before the kill point (last step ${lastStep}):\n${stderr}`));
      else resolve({ lastStep, signal, stderr });
    });
  });
}

(HAVE ? test : test.skip)('kill -9 after a checkpoint was due, at three points: each resume starts from that checkpoint; the last one finishes', async (t) => {
  const config = path.join(tmp, 'lm.yaml');
  fs.writeFileSync(config, CONFIG);
  const run = path.join(tmp, 'run');
  const saeDir = () => {
    const ids = fs.readdirSync(run).filter((n) => fs.statSync(path.join(run, n)).isDirectory());
    t.is(ids.length, 1, ids.join(', '));
    return path.join(run, ids[0]!);
  };
  const resumedFrom = (stderr: string) => /resuming from the checkpoints at (\d+) tokens/.exec(stderr)?.[1];

  // 1. the first record after the step whose checkpoint was due (step record 26)
  const a = await killWhen([config, '--out', run], (r) => r.type === 'step' && r.step! >= 26);
  t.is(a.signal, 'SIGKILL');
  t.true(fs.existsSync(path.join(saeDir(), '3328', 'training_state.json')), `killed after step ${a.lastStep}: ${fs.readdirSync(saeDir()).join(', ')}`);

  // 2. the moment the next checkpoint's record is out
  const b = await killWhen([config, '--resume', run], (r) => r.type === 'checkpoint' && r.tokens === 6528);
  t.is(resumedFrom(b.stderr), '3328', b.stderr);
  t.true(fs.existsSync(path.join(saeDir(), '6528', 'training_state.json')), `killed after step ${b.lastStep}`);

  // 3. a few steps after the third checkpoint was due
  const c = await killWhen([config, '--resume', run], (r) => r.type === 'step' && r.step! >= 80);
  t.is(resumedFrom(c.stderr), '6528', c.stderr);
  t.true(fs.existsSync(path.join(saeDir(), '9728', 'training_state.json')), `killed after step ${c.lastStep}`);

  // the last resume finishes from the third checkpoint
  const d = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, 'train', config, '--resume', run], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (x: Buffer) => (stderr += x.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
  t.is(d.code, 0, d.stderr);
  t.is(resumedFrom(d.stderr), '9728', d.stderr);
  const names = fs.readdirSync(saeDir()).sort();
  t.deepEqual(names, ['3328', '6528', '9728', 'final_12800'], 'no temporary folder of a killed write left');
  const recs = fs.readFileSync(path.join(run, 'records.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; step: number });
  t.deepEqual(recs.filter((r) => r.type === 'step').map((r) => r.step), [...Array(100).keys()], 'each step logged once');
  t.is(recs.filter((r) => r.type === 'done').length, 1);
  t.notRegex(fs.readFileSync(path.join(run, 'report.html'), 'utf8'), /The run failed/);
});
