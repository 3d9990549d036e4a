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

/** Every `sae-rx` command, in the order `--help` lists them. */
export const COMMANDS: CommandList = [train, cache, evalCommand, report, models, hooks, pretrained, dashboards, worker];
