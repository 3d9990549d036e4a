/**
 * `sae-rx train CONFIG`: decode a runner config (toy model or language model), run the runner,
 * and send its records to the console, `records.jsonl`, stdout (`--json`) and W&B (when the
 * config asks); then write the run's `report.html`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { isObservable, type Observable, type Observer } from 'rxjs';
import { generateRunId } from '../../config/languageModelRunnerConfig.js';
import type { RunnerConfigs } from '../../config/runnerConfig.js';
import { encodeRunnerConfig } from '../../config/runnerConfig.js';
import { redactSecrets } from '../../config/secrets.js';
import { consoleSink } from '../../sinks/consoleSink.js';
import { jsonlSink } from '../../sinks/jsonlSink.js';
import { writeReport } from '../../sinks/report/writeReport.js';
import { sinksWith } from '../../sinks/sinks.js';
import { type WandbSink, wandbOptionsFromRunnerConfig, wandbSink } from '../../sinks/wandb.js';
import type { TrainEvent } from '../../train/TrainEvent.js';
import type { FlagSpec, ParsedArgs } from '../args.js';
import type { CliContext } from '../context.js';
import { UsageError, stage } from '../errors.js';
import { FIELD_TABLES, loadRunConfig } from '../runConfig.js';
import { optionalFunction } from '../runners.js';
import { fieldLines } from '../help.js';
import type { Command } from './command.js';

const FLAGS: readonly FlagSpec[] = [
  { name: 'kind', type: 'string', valueName: 'toy|lm', description: 'runner kind (default: a `kind:` key in the file, else toy when the file has toy-model fields, else lm)' },
  { name: 'out', type: 'string', valueName: 'DIR', description: 'run folder (default: checkpoint_path, with the run id SAELens appends)' },
];

/** What the CLI hands a runner besides the config. */
export interface RunnerCliOptions {
  /** The run folder: checkpoints, SAE folders, and the CLI's records.jsonl. */
  readonly runDir: string;
  /** Resume from the latest checkpoint in runDir. */
  readonly resume: boolean;
  /** Info lines for humans (stderr). */
  readonly log: (line: string) => void;
}

type Runner<C> = (cfg: C, opts: RunnerCliOptions) => Observable<TrainEvent> | Promise<Observable<TrainEvent>>;

/** The file in a run folder that lets `--resume DIR` rebuild the run's config. */
const RUN_FILE = 'sae-rx-run.json';

interface RunFile {
  readonly kind: 'toy_model' | 'language_model';
  readonly raw: Record<string, unknown>;
}

async function run(ctx: CliContext, args: ParsedArgs): Promise<number> {
  const resumeDir = ctx.flags.resume !== undefined ? path.resolve(ctx.io.cwd, ctx.flags.resume) : undefined;
  let file = args.positionals[0];
  if (args.positionals.length > 1) throw new UsageError(`train takes one CONFIG file, got ${args.positionals.length} arguments: ${args.positionals.join(' ')}`);
  if (resumeDir !== undefined && !existsSync(resumeDir)) throw new UsageError(`--resume ${ctx.flags.resume}: no such folder`);
  let tmpRaw: string | undefined;
  if (file === undefined) {
    if (resumeDir === undefined) throw new UsageError("train needs a CONFIG file (JSON or YAML); see 'sae-rx train --help'");
    // resume with the config the run was started with
    const rf = path.join(resumeDir, RUN_FILE);
    if (!existsSync(rf)) throw new UsageError(`--resume ${ctx.flags.resume}: no ${RUN_FILE} there (was the run started by 'sae-rx train'?); give the CONFIG too`);
    const saved = JSON.parse(readFileSync(rf, 'utf8')) as RunFile;
    tmpRaw = path.join(resumeDir, `.${RUN_FILE}.config.json`);
    writeFileSync(tmpRaw, JSON.stringify({ kind: saved.kind, ...saved.raw }));
    file = tmpRaw;
  }
  const loaded = await loadRunConfig('train', file, args, ['language_model', 'toy_model'] as const, [...FLAGS], ctx.io.cwd);
  if (loaded.extraPositionals.length > 0 || (tmpRaw !== undefined && args.positionals.length > 0)) {
    throw new UsageError(`train takes one CONFIG file; unexpected ${[...loaded.extraPositionals].join(' ')}`);
  }
  const { kind, config } = loaded;

  const runner =
    kind === 'toy_model'
      ? await optionalFunction<Runner<RunnerConfigs['toy_model']>>('the toy-model runner', 'toyModelRunner', ['runners/toyModelRunner', 'runners/index'])
      : await optionalFunction<Runner<RunnerConfigs['language_model']>>('the language-model runner', 'languageModelRunner', ['runners/languageModelRunner', 'runners/index']);

  const out = typeof args.flags['out'] === 'string' ? path.resolve(ctx.io.cwd, args.flags['out']) : undefined;
  const runDir =
    resumeDir ??
    out ??
    path.resolve(ctx.io.cwd, kind === 'language_model' ? (config as RunnerConfigs['language_model']).checkpoint_path : path.join(config.checkpoint_path, generateRunId()));
  mkdirSync(runDir, { recursive: true });
  // config.json: SAELens's dict (the report shows it); RUN_FILE: what --resume decodes again.
  writeFileSync(path.join(runDir, 'config.json'), JSON.stringify(encodeRunnerConfig(config), null, 2) + '\n');
  writeFileSync(path.join(runDir, RUN_FILE), JSON.stringify(redactSecrets({ kind, raw: loaded.raw } satisfies RunFile), null, 2) + '\n');
  ctx.info(`${resumeDir ? 'resuming' : 'training'} ${kind === 'toy_model' ? 'toy-model' : 'language-model'} SAE run in ${runDir}`);

  const totalSteps =
    kind === 'language_model'
      ? (config as RunnerConfigs['language_model']).total_training_steps
      : Math.floor((config as RunnerConfigs['toy_model']).total_training_tokens / config.train_batch_size);
  const observers: Array<Partial<Observer<TrainEvent>>> = [jsonlSink(path.join(runDir, 'records.jsonl'))];
  if (ctx.flags.progress && !ctx.flags.quiet) observers.push(consoleSink({ totalSteps, stream: ctx.io.stderr }));
  if (ctx.flags.json) observers.push({ next: (r) => ctx.record(r) });
  let wandb: WandbSink | undefined;
  if (config.log_to_wandb) {
    try {
      wandb =
        kind === 'language_model'
          ? wandbSink({ ...wandbOptionsFromRunnerConfig(config as RunnerConfigs['language_model']), warn: (m) => ctx.warn(m) })
          : wandbSink({
              project: config.wandb_project,
              ...(config.wandb_entity ? { entity: config.wandb_entity } : {}),
              config: encodeRunnerConfig(config),
              logFrequency: config.wandb_log_frequency,
              warn: (m) => ctx.warn(m),
            });
      observers.push(wandb);
    } catch (e) {
      ctx.warn(`W&B logging is off: ${(e as Error).message} (set log_to_wandb: false to silence this)`);
    }
  }

  const records$ = await stage('starting the runner', () =>
    (runner as Runner<unknown>)(config, { runDir, resume: resumeDir !== undefined, log: (l) => ctx.info(l) }),
  );
  if (!isObservable(records$)) throw new Error('the runner did not return an Observable of records');
  const done: Array<{ saeId: string; path?: string }> = [];
  await stage('training', () =>
    new Promise<void>((resolve, reject) => {
      records$.subscribe(
        sinksWith<TrainEvent>(
          { warn: (m) => ctx.warn(m) },
          ...observers,
          {
            next: (r: TrainEvent) => {
              if (r.type === 'done') done.push({ saeId: r.saeId, ...(r.path ? { path: r.path } : {}) });
              if (r.type === 'warning' && !ctx.flags.progress) ctx.warn(`${r.saeId}: ${r.message}`);
            },
            error: reject,
            complete: resolve,
          },
        ),
      );
    }),
  );
  if (wandb) await wandb.closed;
  const report = await stage('writing the report', () => writeReport(runDir, { title: `sae-rx ${kind === 'toy_model' ? 'toy-model' : 'language-model'} run` }));
  ctx.record({ type: 'result', command: 'train', runDir, saes: done, report });
  if (!ctx.flags.json) {
    const lines = [
      ...done.map((d) => `SAE ${d.saeId}: ${d.path ?? '(not saved)'}`),
      `records: ${path.join(runDir, 'records.jsonl')}`,
      `report: ${report}`,
    ];
    ctx.print(lines.join('\n'));
  }
  return 0;
}

export const train: Command = {
  name: 'train',
  usage: 'train CONFIG',
  summary: 'train SAEs from a runner config (JSON or YAML; toy model or language model)',
  flags: FLAGS,
  acceptsConfigFields: true,
  help: () => ({
    usage: 'train CONFIG [--kind toy|lm] [--FIELD VALUE ...]',
    summary: 'Train SAEs as the runner config says; writes the run folder: records.jsonl, SAE folders (SAELens layout), report.html.',
    description:
      'Any config field can be overridden on the command line: --l1-coefficient 5 --training-tokens 1e6.\n' +
      'A comma-separated value of a sweepable field is a sweep (--lr 1e-4,3e-4). Booleans: --use-ghost-grads, --no-use-ghost-grads.',
    flags: FLAGS,
    sections: [
      { title: 'Language-model runner config fields (--kind lm; SAELens LanguageModelSAERunnerConfig)', lines: fieldLines(FIELD_TABLES.language_model) },
      { title: 'Toy-model runner config fields (--kind toy; SAELens SAEToyModelRunnerConfig)', lines: fieldLines(FIELD_TABLES.toy_model) },
    ],
  }),
  run,
};
