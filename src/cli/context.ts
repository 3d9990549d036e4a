/**
 * What a command gets: the parsed global flags and where to write. Human output (info lines,
 * tables, summaries) and records (JSON lines) are kept apart so `--json` can put records alone
 * on stdout and everything for humans on stderr.
 */
import { REDACTED } from '../config/secrets.js';

// HF user tokens. (W&B keys are masked by value: a 40-hex pattern would also hide commit hashes.)
const HF_TOKEN_VALUE = /\bhf_[A-Za-z0-9]{30,}\b/g;

export interface CliIo {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

export interface GlobalFlags {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly progress: boolean;
  readonly debug: boolean;
  readonly resume?: string;
}

/** Secrets that may appear in strings we print (tokens from the environment). */
function envSecrets(env: NodeJS.ProcessEnv): string[] {
  return ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'WANDB_API_KEY'].map((k) => env[k]).filter((v): v is string => !!v && v.length >= 4);
}

export class CliContext {
  private readonly secrets: string[];
  constructor(
    readonly io: CliIo,
    readonly flags: GlobalFlags,
  ) {
    this.secrets = envSecrets(io.env);
  }

  /** Masks any known secret in a string about to be printed. */
  redact(s: string): string {
    let out = s.replace(HF_TOKEN_VALUE, REDACTED);
    for (const secret of this.secrets) out = out.split(secret).join(REDACTED);
    return out;
  }

  /** Where human output goes: stdout normally, stderr under --json. */
  get human(): NodeJS.WritableStream & { isTTY?: boolean; columns?: number } {
    return this.flags.json ? this.io.stderr : this.io.stdout;
  }

  /** A progress/info line on stderr (dropped by --quiet). */
  info(line: string): void {
    if (!this.flags.quiet) this.io.stderr.write(this.redact(line) + '\n');
  }

  /** A warning on stderr (kept under --quiet). */
  warn(line: string): void {
    this.io.stderr.write(this.redact(`warning: ${line}`) + '\n');
  }

  /** Result text for humans (stdout, or stderr under --json); printed even under --quiet. */
  print(text: string): void {
    this.human.write(this.redact(text.endsWith('\n') ? text : text + '\n'));
  }

  /** One record: a JSON line on stdout under --json, nothing otherwise. */
  record(rec: unknown): void {
    if (this.flags.json) this.io.stdout.write(this.redact(JSON.stringify(rec)) + '\n');
  }

  /** A record under --json, else its human rendering. */
  emit(rec: unknown, text: string): void {
    if (this.flags.json) this.record(rec);
    else this.print(text);
  }
}
