/**
 * Error classes of sae-rx. Every error a user can meet is one of these, with `name` set, so
 * callers can tell a bad config from a bad file from a failed stage without parsing messages.
 * This module depends on nothing, so every layer may use it.
 */
export class SaeRxError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A config (file, CLI flags, cfg.json, operator options) is invalid. */
export class ConfigError extends SaeRxError {}

/** A file on disk is malformed or does not match what was asked of it. */
export class FileFormatError extends SaeRxError {}

/** A tensor has the wrong shape or dtype for what it is used for. */
export class ShapeError extends SaeRxError {}

/** The tfjs backend or a kernel could not be set up. */
export class BackendError extends SaeRxError {}

/** A Hugging Face Hub request failed (missing repo/file, gated repo, offline cache miss). */
export class HubError extends SaeRxError {}

/** A pipeline stage failed; the message names the stage, `cause` holds the original error. */
export class StageError extends SaeRxError {
  constructor(readonly stage: string, cause: unknown) {
    super(`${stage}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}
