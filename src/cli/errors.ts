/**
 * How the CLI ends: exit 0 when done, 2 for bad usage or a bad config (the problem is in what
 * the user typed or wrote), 1 for a failure while working (named by its stage).
 */
import { ConfigError, SaeRxError, StageError } from '../errors.js';

/** The command line itself is wrong: unknown command or option, missing argument. Exit 2. */
export class UsageError extends SaeRxError {}

/** A command exists but its machinery is not part of this build yet. Exit 1. */
export class NotAvailableError extends SaeRxError {}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Exit 2 for errors in what the user gave (usage, config); 1 for everything else. */
export function exitCodeOf(e: unknown): number {
  return e instanceof UsageError || e instanceof ConfigError ? EXIT_USAGE : EXIT_FAILURE;
}

/**
 * Runs one stage of a command; a failure becomes a StageError naming the stage (config and
 * usage errors pass through unchanged: they already say which field or file).
 */
export async function stage<T>(name: string, f: () => T | Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigError || e instanceof StageError || e instanceof NotAvailableError) throw e;
    throw new StageError(name, e);
  }
}
