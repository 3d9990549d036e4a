/** What flows through the pipelines (DESIGN.md §2): plain data types, ownership helpers, seeded randomness. */
export type { ActivationBatch } from './ActivationBatch.js';
export type { TokenBatch } from './TokenBatch.js';
export type { Document } from './Document.js';
export type {
  CheckpointRecord, DoneRecord, EvalRecord, Histogram, StepRecord, TrainEvent, WarningRecord,
} from './TrainEvent.js';
export { Rng, seededRandom, seededShuffle } from './rng.js';
