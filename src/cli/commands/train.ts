/**
 * `sae-rx train CONFIG`: decode a runner config (toy model or language model) and run its
 * runner, which sends the records to the console, `records.jsonl` and W&B (when the config
 * asks) and writes the run's `report.html`; with `--json` the records also go to stdout.
 * `--resume DIR` continues an interrupted run (SIGINT/SIGTERM write a checkpoint) in DIR from
 * its latest checkpoint; the resumed run ends with the SAE an uninterrupted one would have.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { FIELD_TABLES } from '../../config/files.js';
import { TRANSCODER_FIELDS } from '../../config/transcoderFields.js';
import { generateRunId } from '../../config/languageModelRunnerConfig.js';
import { type RunnerConfigs, encodeRunnerConfig } from '../../config/runnerConfig.js';
import { ConfigError } from '../../errors.js';
import { assertWritableFolder } from '../../io/writableFolder.js';
import type { RunOptions, RunSummary } from '../../runners/trainingRun.js';
import type { FeatureRecovery } from '../../sources/toyModel.js';
import type { TrainEvent } from '../../stream/TrainEvent.js';
import type { FlagSpec, ParsedArgs } from '../args.js';
import type { CliContext } from '../context.js';
import { UsageError, stage } from '../errors.js';
import { architectureLines, fieldLines } from '../help.js';
import { loadRunConfig } from '../runConfig.js';
import type { Command } from './command.js';
import { printConfig } from './printConfig.js';
import { QUEUE_FLAGS } from './worker.js';

const FLAGS: readonly FlagSpec[] = [
  { name: 'dry-run', type: 'boolean', description: 'check the config and print it decoded (defaults filled, sweep expanded); train nothing' },
  { name: 'kind', type: 'string', valueName: 'toy|lm', description: 'runner kind (default: a `kind:` key in the file, else toy when the file has toy-model fields, else lm)' },
  { name: 'out', type: 'string', valueName: 'DIR', description: 'run folder (default: checkpoint_path, with the run id SAELens appends)' },
  { name: 'allow-nan', type: 'boolean', description: "keep training when a step's loss is NaN or Inf (default: stop, exit 1, naming the SAE and step)" },
  ...QUEUE_FLAGS,
  { name: 'store', type: 'string', valueName: 'DIR|s3://B/P', description: 'with --queue: where checkpoints, final SAEs, records.jsonl and reports go (every worker must reach it)' },
  { name: 'saes-per-job', type: 'string', valueName: 'N', description: 'with --queue: SAEs of one stream per job (default: all of a stream in one job)' },
];

const fmt = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? String(x) : Math.abs(x) >= 1e4 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(3) : x.toPrecision(4));

async function run(ctx: CliContext, args: ParsedArgs): Promise<number> {
  const file = args.positionals[0];
  if (file === undefined) throw new UsageError("train needs a CONFIG file (JSON or YAML); see 'sae-rx train --help'");
  if (args.positionals.length > 1) throw new UsageError(`train takes one CONFIG file, got ${args.positionals.length} arguments: ${args.positionals.join(' ')}`);
  if (ctx.flags.resume !== undefined && !existsSync(path.resolve(ctx.io.cwd, ctx.flags.resume))) {
    throw new UsageError(`--resume ${ctx.flags.resume}: no such folder`);
  }
  const loaded = await loadRunConfig('train', file, args, ['language_model', 'toy_model'] as const, FLAGS, ctx.io.cwd);
  if (loaded.extraPositionals.length > 0) throw new UsageError(`train takes one CONFIG file; unexpected ${loaded.extraPositionals.join(' ')}`);
  const { kind, config } = loaded;
  const what = kind === 'toy_model' ? 'toy-model' : 'language-model';
  if (args.flags['dry-run'] === true) {
    let saes = ['sae'];
    if (kind === 'language_model') saes = (await import('../../runners/runnerSingles.js')).runnerSingles(config as RunnerConfigs['language_model']).map((s) => s.sae_id);
    printConfig(ctx, kind, encodeRunnerConfig(config), saes);
    return 0;
  }

  if (args.flags['queue'] !== undefined || ctx.io.env['SAE_RX_QUEUE']) {
    if (kind !== 'language_model') throw new UsageError('--queue: distributed training is for language-model sweeps (kind lm)');
    // the heavy parts load only when used (startup time: see cli/commands/index.ts)
    return (await import('./distributedSweep.js')).runDistributedSweep(ctx, args, config as RunnerConfigs['language_model']);
  }
  if (args.flags['store'] !== undefined || args.flags['saes-per-job'] !== undefined) throw new UsageError('--store and --saes-per-job are for distributed sweeps: give --queue redis://HOST:PORT too');
  const out = typeof args.flags['out'] === 'string' ? path.resolve(ctx.io.cwd, args.flags['out']) : undefined;
  // --resume DIR: continue the run in DIR from its latest checkpoint (the runner replays the
  // data stream up to it); a language-model config's `resume: true` continues in its run folder.
  const resumeDir = ctx.flags.resume !== undefined ? path.resolve(ctx.io.cwd, ctx.flags.resume) : undefined;
  if (resumeDir !== undefined && out !== undefined && out !== resumeDir)
    throw new UsageError(`--out ${args.flags['out']} and --resume ${ctx.flags.resume} name different run folders; a resumed run continues in its own folder`);
  if (resumeDir !== undefined) warnOnConfigChange(ctx, resumeDir, encodeRunnerConfig(config));
  const runDir =
    resumeDir ??
    out ??
    path.resolve(
      ctx.io.cwd,
      kind === 'language_model'
        ? (config as RunnerConfigs['language_model']).checkpoint_path // SAELens already appended the run id
        : path.join(config.checkpoint_path, generateRunId()),
    );
  const opts: RunOptions = {
    runDir,
    console: ctx.flags.progress ? { stream: ctx.io.stderr } : false,
    sinks: [
      {
        next: (r: TrainEvent) => {
          ctx.record(r);
          // the console sink prints warnings; without it, they still reach the user
          if (r.type === 'warning' && !ctx.flags.progress) ctx.warn(`${r.saeId}: ${r.message}`);
        },
      },
    ],
    log: (l) => ctx.info(l),
    wandb: { warn: (m) => ctx.warn(m) },
    ...(resumeDir !== undefined ? { resume: true } : {}),
    ...(args.flags['allow-nan'] === true ? { allowNonFiniteLoss: true } : {}),
  };
  // before any work (model loading, toy-model training): a run that cannot write its folder would lose everything
  assertWritableFolder(runDir, 'run folder');
  const { cliBackend } = await import('../backend.js');
  await cliBackend(ctx);
  const { languageModelRunner } = await import('../../runners/languageModelRunner.js');
  const { toyModelRunner } = await import('../../runners/toyModelRunner.js');
  const runner = await stage(`setting up the ${what} runner`, () =>
    kind === 'toy_model' ? toyModelRunner(config as RunnerConfigs['toy_model'], opts) : languageModelRunner(config as RunnerConfigs['language_model'], opts),
  );
  ctx.info(`${what} run in ${runner.runDir}`);
  const summary: RunSummary & { recovery?: FeatureRecovery } = await stage('training', () =>
    runner.run().catch((e: unknown) => {
      // W&B without a key is the config's doing (log_to_wandb defaults to true, as in SAELens)
      if (e instanceof ConfigError && /W&B/.test(e.message) && config.log_to_wandb) {
        throw new ConfigError(`log_to_wandb: ${e.message}; or turn W&B off (log_to_wandb: false, --no-log-to-wandb)`, { cause: e });
      }
      throw e;
    }),
  );

  const saes = summary.saes.map((s) => ({
    saeId: s.saeId,
    ...(s.path !== undefined ? { path: s.path } : {}),
    steps: s.steps,
    tokens: s.tokens,
    ...(s.last ? { l0: s.last.l0, mse: s.last.losses.mse, explainedVariance: s.last.explainedVarianceMean } : {}),
  }));
  const result = {
    type: 'result',
    command: 'train',
    kind,
    runDir: summary.runDir,
    records: path.join(summary.runDir, 'records.jsonl'),
    ...(summary.reportPath ? { report: summary.reportPath } : {}),
    saes,
    seconds: summary.seconds,
    tokensPerSecond: summary.tokensPerSecond,
    trainingSeconds: summary.trainingSeconds,
    ...(summary.recovery ? { recovery: { recovered: summary.recovery.recovered, threshold: summary.recovery.threshold, meanMaxCosine: summary.recovery.meanMaxCosine } } : {}),
  };
  const lines = [
    ...saes.map(
      (s) => `SAE ${s.saeId}: ${s.path ?? '(not saved)'}  (${s.steps} steps, ${s.tokens} tokens${s.l0 !== undefined ? `, L0 ${fmt(s.l0)}, MSE ${fmt(s.mse)}, explained variance ${fmt(s.explainedVariance)}` : ''})`,
    ),
    ...(summary.recovery
      ? [`feature recovery: ${summary.recovery.recovered}/${summary.recovery.maxCosine.length} true features have a decoder row with cosine > ${summary.recovery.threshold}`]
      : []),
    `records: ${result.records}`,
    ...(summary.reportPath ? [`report: ${summary.reportPath}`] : []),
    `training: ${Math.round(summary.tokensPerSecond)} tokens/s (activation rows trained per second, first to last step, ${summary.trainingSeconds.toFixed(1)} s); ${summary.seconds.toFixed(1)} s in all with set-up`,
  ];
  ctx.emit(result, lines.join('\n'));
  return 0;
}

/** Fields that may differ between a run and its resumption (where it is, that it resumes). */
const RESUME_FREE_FIELDS = new Set(['checkpoint_path', 'resume', 'log_to_wandb', 'wandb_project', 'wandb_entity', 'run_name', 'wandb_log_frequency', 'eval_every_n_wandb_logs']);

/**
 * A resumed run replays the data stream of the run it continues: a different config gives
 * different data or a different SAE. Names the fields that differ from the run folder's
 * config.json (a warning: the user may mean it).
 */
function warnOnConfigChange(ctx: CliContext, runDir: string, now: Record<string, unknown>): void {
  const file = path.join(runDir, 'config.json');
  if (!existsSync(file)) return;
  let saved: Record<string, unknown>;
  try {
    saved = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    ctx.warn(`--resume: ${file} is not readable JSON (${e instanceof Error ? e.message : String(e)}); cannot check the config against it`);
    return;
  }
  const differ = Object.keys({ ...saved, ...now })
    .filter((k) => !RESUME_FREE_FIELDS.has(k) && JSON.stringify(saved[k]) !== JSON.stringify(now[k]))
    .sort();
  if (differ.length > 0)
    ctx.warn(`--resume: the config differs from the run's ${file} in ${differ.join(', ')}; the resumed run will not equal an uninterrupted one`);
}

export const train: Command = {
  name: 'train',
  usage: 'train CONFIG',
  summary: 'train SAEs from a runner config (JSON or YAML; toy model or language model)',
  flags: FLAGS,
  acceptsConfigFields: true,
  help: async () => ({
    usage: 'train CONFIG [--kind toy|lm] [--FIELD VALUE ...]',
    summary: 'Train SAEs as the runner config says; writes the run folder: records.jsonl, SAE folders (SAELens layout), report.html.',
    description:
      'Any config field can be overridden on the command line: --l1-coefficient 5 --training-tokens 1e6.\n' +
      'A comma-separated value of a sweepable field is a sweep (--lr 1e-4,3e-4). Booleans: --use-ghost-grads, --no-use-ghost-grads.',
    flags: FLAGS,
    sections: [
      { title: 'Language-model runner config fields (--kind lm; SAELens LanguageModelSAERunnerConfig)', lines: fieldLines(FIELD_TABLES.language_model) },
      {
        title:
          'Transcoder fields (SAELens 6 TranscoderConfig; with a *transcoder architecture only, in the flat config or a SAELens 6 `sae:` block): ' +
          'the input is hook_point (e.g. blocks.1.ln2.hook_normalized), the output reconstructs hook_name_out (e.g. blocks.1.hook_mlp_out); d_out defaults to d_in',
        lines: fieldLines(TRANSCODER_FIELDS),
      },
      { title: 'Toy-model runner config fields (--kind toy; SAELens SAEToyModelRunnerConfig)', lines: fieldLines(FIELD_TABLES.toy_model) },
      {
        title:
          "SAE architectures (--architecture NAME, default standard = SAELens v1.5's SAE; in a SAELens 6 config's `sae:` block, " +
          "standard means standard_v6) and their own fields with SAELens 6's defaults (a flat config's l1_coefficient, lp_norm, l1_warm_up_steps are the runner fields above; a field of another architecture is an error)",
        lines: await architectureLines(),
      },
    ],
  }),
  run,
};
