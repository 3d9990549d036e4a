import type { FlagSpec, ParsedArgs } from '../args.js';
import type { CliContext } from '../context.js';
import type { CommandHelp } from '../help.js';

/** One `sae-rx` command. */
export interface Command {
  readonly name: string;
  /** Short usage for the command list. */
  readonly usage: string;
  readonly summary: string;
  readonly flags: readonly FlagSpec[];
  /** Unknown `--name value` words are config-field overrides (train, cache), checked by the command. */
  readonly acceptsConfigFields?: boolean;
  /** May load what it lists (the architectures), so the CLI's start does not. */
  readonly help: () => CommandHelp | Promise<CommandHelp>;
  readonly run: (ctx: CliContext, args: ParsedArgs) => Promise<number>;
}
