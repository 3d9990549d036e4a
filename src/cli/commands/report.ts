/** `sae-rx report RUN_DIR`: (re)build a run's report.html from what the run left on disk. */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { FlagSpec, ParsedArgs } from '../args.js';
import type { CliContext } from '../context.js';
import { UsageError, stage } from '../errors.js';
import type { Command } from './command.js';

const FLAGS: readonly FlagSpec[] = [
  { name: 'out', type: 'string', valueName: 'FILE', description: 'where to write the report (default RUN_DIR/report.html)' },
  { name: 'title', type: 'string', valueName: 'TEXT', description: 'report title' },
];

async function run(ctx: CliContext, args: ParsedArgs): Promise<number> {
  // loaded when the command runs, not when the CLI starts (cli/commands/index.ts says why)
  const { writeReport } = await import('../../sinks/report/writeReport.js');
  if (args.positionals.length !== 1) throw new UsageError(`report takes one RUN_DIR, got ${args.positionals.length} arguments`);
  const dir = path.resolve(ctx.io.cwd, args.positionals[0]!);
  if (!existsSync(dir)) throw new UsageError(`run folder not found: ${args.positionals[0]}`);
  if (!existsSync(path.join(dir, 'records.jsonl'))) throw new UsageError(`${args.positionals[0]}: no records.jsonl (not a run folder of 'sae-rx train')`);
  const out = typeof args.flags['out'] === 'string' ? path.resolve(ctx.io.cwd, args.flags['out']) : undefined;
  const title = typeof args.flags['title'] === 'string' ? args.flags['title'] : undefined;
  const file = await stage('writing the report', () => writeReport(dir, { ...(out ? { out } : {}), ...(title ? { title } : {}) }));
  ctx.emit({ type: 'result', command: 'report', report: file }, `report: ${file}`);
  return 0;
}

export const report: Command = {
  name: 'report',
  usage: 'report RUN_DIR',
  summary: "write a run's report.html from its records.jsonl, config and SAE folders",
  flags: FLAGS,
  help: () => ({
    usage: 'report RUN_DIR [--out FILE] [--title TEXT]',
    summary: "Write the HTML training report of the run in RUN_DIR (records.jsonl, config.json, the SAE folders' sparsity).",
    flags: FLAGS,
  }),
  run,
};
