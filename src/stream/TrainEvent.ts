/**
 * The records a training stream emits (DESIGN.md §2). Plain JSON: numbers, strings, arrays
 * of numbers. Sinks never see tensors; a record written to JSONL reads back unchanged.
 */
export interface StepRecord {
  readonly type: 'step';
  readonly saeId: string;
  readonly step: number;
  readonly tokens: number;
  /**
   * mse and total always; l1 and ghost for the architectures that have those terms (SAELens
   * v1.5's standard SAE: both; SAELens 6's standard: l1, λ-weighted); every other loss term under
   * its SAELens 6 metric name (auxiliary_reconstruction_loss, inner_mse_loss_<w>, …).
   */
  readonly losses: {
    readonly mse: number;
    readonly l1?: number;
    readonly ghost?: number;
    readonly total: number;
    readonly [name: string]: number | undefined;
  };
  /**
   * The SAE architecture, for every one but SAELens v1.5's standard SAE (whose records stay as
   * they were). With it, W&B rows follow SAELens 6's logging.
   */
  readonly architecture?: string;
  /** This step's scheduled coefficients by name (SAELens 6: details/<name>_coefficient); with `architecture`. */
  readonly coefficients?: Readonly<Record<string, number>>;
  readonly l0: number;
  readonly explainedVarianceMean: number;
  readonly explainedVarianceStd: number;
  readonly deadFeatures: number;
  readonly lr: number;
  readonly l1Coefficient: number;
  readonly phase: 'train' | 'finetune';
}

export interface Histogram {
  /** bin edges (length bins+1) and counts (length bins) */
  readonly edges: number[];
  readonly counts: number[];
}

export interface EvalRecord {
  readonly type: 'eval';
  readonly saeId: string;
  readonly step: number;
  readonly tokens: number;
  /** SAELens metric names without the "metrics/" prefix, e.g. ce_loss_score, l0, kl_div. */
  readonly metrics: Readonly<Record<string, number>>;
  readonly histograms?: Readonly<Record<string, Histogram>>;
}

export interface CheckpointRecord {
  readonly type: 'checkpoint';
  readonly saeId: string;
  readonly step: number;
  readonly tokens: number;
  readonly path: string;
}

export interface DoneRecord {
  readonly type: 'done';
  readonly saeId: string;
  readonly step: number;
  readonly tokens: number;
  /** Folder of the final SAE, when a checkpoint sink wrote it. */
  readonly path?: string;
}

export interface WarningRecord {
  readonly type: 'warning';
  readonly saeId: string;
  readonly step: number;
  readonly tokens: number;
  readonly message: string;
}

export type TrainEvent = StepRecord | EvalRecord | CheckpointRecord | DoneRecord | WarningRecord;
