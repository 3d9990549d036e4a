/**
 * `sae-rx train CONFIG --resume DIR` as a user runs it: a toy run interrupted by SIGINT (trainSae
 * writes a checkpoint, then the process exits), resumed from its folder, ends with the same SAE
 * as an uninterrupted run, and its records.jsonl holds every step once.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeSafetensors } from '../../src/io/safetensors.js';
import { BIN, REPO, spawnCli } from './helpers.js';

const TOY = path.join(REPO, 'test/fixtures/cli/toy.yaml');
const STEPS = 600;
const TOKENS = String(STEPS * 256);

let tmp: string;
test.before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'sae-rx-cli-resume-'));
});
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

const weights = (dir: string) => {
  const file = path.join(dir, 'sae_weights.safetensors');
  const st = decodeSafetensors(new Uint8Array(readFileSync(file)), file);
  return Object.fromEntries(['W_enc', 'b_enc', 'W_dec', 'b_dec'].map((k) => [k, st.float32(k)]));
};

/** Starts a toy run with --json and sends SIGINT once a step record at or past `atStep` is out. */
function interruptedRun(out: string, atStep: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; lastStep: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, '--json', 'train', TOY, '--out', out, '--total-training-tokens', TOKENS], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    let stderr = '';
    let lastStep = -1;
    let sent = false;
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) {
        if (!l.startsWith('{')) continue;
        const r = JSON.parse(l) as { type?: string; step?: number };
        if (r.type === 'step') lastStep = r.step!;
        if (!sent && lastStep >= atStep) {
          sent = true;
          child.kill('SIGINT');
        }
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr, lastStep });
    });
  });
}

test('train --resume DIR: a run stopped by SIGINT continues from its checkpoint and ends with the SAE of an uninterrupted run', async (t) => {
  const full = path.join(tmp, 'full');
  const cut = path.join(tmp, 'cut');
  const [ref, stopped] = await Promise.all([
    spawnCli(['train', TOY, '--out', full, '--total-training-tokens', TOKENS]),
    interruptedRun(cut, 100),
  ]);
  t.is(ref.code, 0, ref.stderr);
  // interrupted mid-training: a checkpoint of the SAE, no final folder
  t.true(stopped.code !== 0 || stopped.signal !== null, `the interrupted run exited with ${stopped.code} / ${stopped.signal}`);
  t.regex(stopped.stderr, /SIGINT received; writing checkpoints under/);
  const names = readdirSync(path.join(cut, 'sae'));
  t.false(names.some((n) => n.startsWith('final_')), names.join(', '));
  const ck = names.filter((n) => /^\d+$/.test(n));
  t.is(ck.length, 1, names.join(', '));
  const ckSteps = Number(ck[0]) / 256;
  t.true(ckSteps >= 100 && ckSteps < STEPS, `checkpoint after ${ckSteps} steps`);
  t.true(existsSync(path.join(cut, 'sae', ck[0]!, 'training_state.json')));

  const resumed = await spawnCli(['train', TOY, '--resume', cut, '--total-training-tokens', TOKENS]);
  t.is(resumed.code, 0, resumed.stderr);
  t.regex(resumed.stderr, new RegExp(`resuming from the checkpoints at ${ck[0]} tokens \\(replaying ${ckSteps} train batches\\)`));
  t.notRegex(resumed.stderr, /differs from the run's/);
  const finalName = `final_${TOKENS}`;
  const want = weights(path.join(full, 'sae', finalName));
  const got = weights(path.join(cut, 'sae', finalName));
  for (const k of Object.keys(want)) {
    const a = want[k]!;
    const b = got[k]!;
    t.is(a.length, b.length, k);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1e-6, Math.abs(a[i]!)));
    t.true(worst <= 1e-5, `${k}: largest relative difference ${worst}`);
  }
  // records.jsonl continued: each step once, in order; one done record
  const recs = readFileSync(path.join(cut, 'records.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; step: number });
  t.deepEqual(recs.filter((r) => r.type === 'step').map((r) => r.step), [...Array(STEPS).keys()]);
  t.is(recs.filter((r) => r.type === 'done').length, 1);
  t.true(existsSync(path.join(cut, 'report.html')));

  // a finished run is not resumed again
  const again = await spawnCli(['train', TOY, '--resume', cut, '--total-training-tokens', TOKENS]);
  t.is(again.code, 2, again.stderr);
  t.regex(again.stderr, /already finished/);
  // a changed config is named
  const changed = await spawnCli(['train', TOY, '--resume', full, '--total-training-tokens', TOKENS, '--l1-coefficient', '0.5']);
  t.regex(changed.stderr, /the config differs from the run's .*config\.json in l1_coefficient/);
});
