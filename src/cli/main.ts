/**
 * The `sae-rx` command line. `main(argv)` parses, runs one command and resolves to the exit
 * code: 0 done, 1 failure (the stage and its cause; a stack only with --debug), 2 bad usage
 * or config (the readable config errors). It never calls process.exit: bin/sae-rx.js does.
 */
import { readFileSync } from 'node:fs';
import { GLOBAL_FLAGS, parseArgv, rejectUnknown, suggestFlag } from './args.js';
import { type CommandList, COMMANDS } from './commands/index.js';
import { CliContext, type CliIo } from './context.js';
import { EXIT_OK, EXIT_USAGE, UsageError, exitCodeOf } from './errors.js';
import { commandHelp, mainHelp } from './help.js';
import { closestKey } from '../config/fields.js';

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Runs the `sae-rx` command line `argv` (without node and script); resolves to the exit code. */
export async function main(argv: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
  const fullIo: CliIo = {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    env: io.env ?? process.env,
    cwd: io.cwd ?? process.cwd(),
  };
  const commands: CommandList = COMMANDS;
  let debug = argv.includes('--debug');
  let ctx = new CliContext(fullIo, { json: false, quiet: false, progress: true, debug });
  try {
    // The command is the first word that is not an option (global options may come first).
    const first = parseArgv(argv, GLOBAL_FLAGS);
    const name = first.positionals[0];
    const command = name !== undefined ? commands.find((c) => c.name === name) : undefined;
    if (name !== undefined && !command) {
      const near = closestKey(name, commands.map((c) => c.name));
      throw new UsageError(`unknown command ${JSON.stringify(name)}${near ? `; did you mean '${near}'?` : ''} (commands: ${commands.map((c) => c.name).join(', ')})`);
    }
    const flags = [...GLOBAL_FLAGS, ...(command?.flags ?? [])];
    const rest = [...argv];
    if (command) rest.splice(rest.indexOf(command.name), 1);
    const args = parseArgv(rest, flags);
    const g = args.flags;
    debug = g['debug'] === true;
    ctx = new CliContext(fullIo, {
      json: g['json'] === true,
      quiet: g['quiet'] === true,
      progress: g['no-progress'] !== true && g['quiet'] !== true,
      debug,
      ...(typeof g['resume'] === 'string' ? { resume: g['resume'] } : {}),
    });
    if (g['version'] === true) {
      ctx.emit({ type: 'version', version: version() }, `sae-rx ${version()}`);
      return EXIT_OK;
    }
    if (!command) {
      if (g['help'] === true) {
        fullIo.stdout.write(mainHelp(commands));
        return EXIT_OK;
      }
      if (args.rest.length > 0) {
        const near = suggestFlag(args.rest[0]!.name, GLOBAL_FLAGS);
        throw new UsageError(`unknown option ${args.rest[0]!.word}${near ? `; did you mean --${near}?` : ''}`);
      }
      fullIo.stderr.write(mainHelp(commands));
      return EXIT_USAGE;
    }
    if (g['help'] === true) {
      fullIo.stdout.write(commandHelp(await command.help(), command.name));
      return EXIT_OK;
    }
    if (g['resume'] !== undefined && command.name !== 'train') throw new UsageError(`--resume is for 'sae-rx train', not '${command.name}'`);
    if (!command.acceptsConfigFields) rejectUnknown(command.name, args.rest, flags);
    return await command.run(ctx, args);
  } catch (e) {
    const code = exitCodeOf(e);
    const err = e as Error;
    const msg = err instanceof Error ? err.message : String(e);
    const label = code === EXIT_USAGE ? 'error' : 'failed';
    fullIo.stderr.write(ctx.redact(`sae-rx: ${label}: ${msg}`) + '\n');
    if (debug && err instanceof Error) {
      let c: unknown = err;
      while (c instanceof Error) {
        fullIo.stderr.write(ctx.redact(c.stack ?? String(c)) + '\n');
        c = c.cause;
        if (c instanceof Error) fullIo.stderr.write('caused by: ');
      }
    } else if (code !== EXIT_USAGE) {
      fullIo.stderr.write('(run with --debug for the stack trace)\n');
    }
    if (ctx.flags.json) ctx.record({ type: 'error', exitCode: code, error: err?.name ?? 'Error', message: msg });
    return code;
  }
}
