import { cache } from './cache.js';
import type { Command } from './command.js';
import { dashboards } from './dashboards.js';
import { evalCommand } from './eval.js';
import { hooks } from './hooks.js';
import { models } from './models.js';
import { pretrained } from './pretrained.js';
import { report } from './report.js';
import { train } from './train.js';
import { worker } from './worker.js';

export type CommandList = readonly Command[];

// Startup time: every `sae-rx` call imports these modules, so they hold only what parsing and
// --help need; each command imports its working parts (runners, models, tfjs, BullMQ, the S3
// client) when it runs. Loading all of them took ~2/3 of a start (measured on `--help`: 4.2 →
// 2.1 s of CPU at load 7). It matters most to the distributed coordinators, whose start-up is
// serial time in front of every worker (bench/cluster.ts's beforeFirstJobMs).

/** Every `sae-rx` command, in the order `--help` lists them. */
export const COMMANDS: CommandList = [train, cache, evalCommand, report, models, hooks, pretrained, dashboards, worker];
