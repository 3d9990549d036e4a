/**
 * Training checkpoints (DESIGN.md §6): an SAE folder in SAELens's layout (so a checkpoint
 * loads like any SAE) plus what the trainer needs to resume — `training_state.safetensors`
 * (Adam moments, dead-feature counters) and `training_state.json` (step counters, data
 * position, norm scaling factor). The whole folder is written under a temporary name and
 * renamed, so a crash never leaves half a checkpoint. Plain data in, no tensors.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FileFormatError } from '../errors.js';
import { writeDirAtomicSync } from '../io/atomicWrite.js';
import { decodeSafetensors, encodeSafetensors, type RawTensor } from '../io/safetensors.js';
import { SaeParamArrays, type SaeSnapshot } from '../sae/Sae.js';
import { architectureOf } from '../sae/architectures/registry.js';
import { saeFolderFiles } from '../sae/saeFolder.js';
import type { TrainerState } from './SaeTrainer.js';
import { type TrainingStateJson as StateJson, validateTrainingState } from './checkpointValidation.js';
import { type NormFactors, definedFactors } from './normFactors.js';

export const TRAINING_STATE_JSON = 'training_state.json';
export const TRAINING_STATE_TENSORS = 'training_state.safetensors';

/**
 * Writes the files of an SAE folder into the (existing, empty) folder `dir`, synchronously
 * (default: the SAE area's `saeFolderFiles`, the layout `writeSaeFolder` writes).
 */
export type SaeFolderWriter = (
  dir: string,
  snap: SaeSnapshot,
  extra: { sparsity?: Float32Array } & NormFactors,
) => void;

/** The SAE area's SAE folder layout, written into `dir`. */
export const writeSaeFolderFiles: SaeFolderWriter = (dir, snap, extra) => {
  for (const f of saeFolderFiles(snap, extra)) fs.writeFileSync(path.join(dir, f.name), f.bytes);
};

export interface CheckpointContent {
  readonly saeId: string;
  readonly snapshot: SaeSnapshot;
  readonly trainerState: TrainerState;
  /** Activation rows this SAE has trained on. */
  readonly tokens: number;
  readonly sparsity?: Float32Array;
  readonly normScalingFactor?: number;
  readonly targetNormScalingFactor?: number;
  /** Anything else that places the data stream (batches consumed, RNG states). */
  readonly data?: Readonly<Record<string, number>>;
}


/**
 * Writes the checkpoint folder `dir` synchronously and atomically (a temporary folder, every
 * file fsynced, then renamed): when it returns, the checkpoint survives a kill at any later
 * point. Synchronous on purpose: a training stream may never yield to the event loop, so an
 * asynchronous write could wait until the run ends.
 */
export function writeCheckpoint(dir: string, c: CheckpointContent, writeSae: SaeFolderWriter = writeSaeFolderFiles): void {
  const s = c.trainerState;
  const tensors: Record<string, RawTensor> = {
    steps_since_fired: { dtype: 'F32', shape: [s.stepsSinceFired.length], data: s.stepsSinceFired },
    act_freq_scores: { dtype: 'F32', shape: [s.actFreqScores.length], data: s.actFreqScores },
  };
  // The weights as trained (before the norm scaling factor is folded into the SAE folder's
  // copy, and before any conversion for inference), by parameter name, so that a resumed run
  // continues bit for bit.
  const snap = c.snapshot;
  const shapes = new Map(architectureOf(snap.cfg.architecture).params(snap.cfg).map((p) => [p.name, [...p.shape]]));
  for (const [name, data] of Object.entries(snap.params)) tensors[`sae.${name}`] = { dtype: 'F32', shape: shapes.get(name) ?? [data.length], data };
  const steps: Record<string, number> = {};
  for (const [name, p] of Object.entries(s.adam.params)) {
    steps[name] = p.step;
    tensors[`adam.${name}.m`] = { dtype: 'F32', shape: [p.m.length], data: p.m };
    tensors[`adam.${name}.v`] = { dtype: 'F32', shape: [p.v.length], data: p.v };
  }
  const json: StateJson = {
    saeId: c.saeId,
    step: s.step,
    finetuning: s.finetuning,
    nFracActiveTokens: s.nFracActiveTokens,
    tokens: c.tokens,
    normScalingFactor: c.normScalingFactor ?? null,
    ...(c.targetNormScalingFactor !== undefined ? { targetNormScalingFactor: c.targetNormScalingFactor } : {}),
    saeState: { ...snap.state },
    adam: { beta1: s.adam.beta1, beta2: s.adam.beta2, eps: s.adam.eps, steps },
    data: { ...(c.data ?? {}) },
  };
  writeDirAtomicSync(dir, (tmp) => {
    writeSae(tmp, c.snapshot, { ...(c.sparsity ? { sparsity: c.sparsity } : {}), ...definedFactors(c) });
    fs.writeFileSync(path.join(tmp, TRAINING_STATE_TENSORS), encodeSafetensors(tensors));
    fs.writeFileSync(path.join(tmp, TRAINING_STATE_JSON), JSON.stringify(json, null, 2) + '\n');
  });
}

export interface CheckpointState {
  readonly saeId: string;
  /** The SAE's weights as trained (norm scaling factor not folded in), by parameter name. */
  readonly weights: SaeParamArrays;
  readonly trainerState: TrainerState;
  readonly tokens: number;
  readonly normScalingFactor?: number;
  readonly targetNormScalingFactor?: number;
  readonly data: Readonly<Record<string, number>>;
}

/** Reads the training state of a checkpoint folder (the SAE itself loads with `loadSae`). */
export async function readCheckpointState(dir: string): Promise<CheckpointState> {
  const jsonPath = path.join(dir, TRAINING_STATE_JSON);
  let raw: unknown;
  try {
    raw = JSON.parse(await fsp.readFile(jsonPath, 'utf8'));
  } catch (e) {
    throw new FileFormatError(`${jsonPath}: cannot read training state (${(e as Error).message})`, { cause: e });
  }
  const json: StateJson = validateTrainingState(raw, jsonPath);
  const tensorsPath = path.join(dir, TRAINING_STATE_TENSORS);
  const st = decodeSafetensors(new Uint8Array(await fsp.readFile(tensorsPath)), tensorsPath);
  // a copy: the decoded view would keep the whole file buffer alive; NaN/Inf would train on as NaN
  const f32 = (name: string): Float32Array => {
    const a = st.float32(name).slice();
    for (let i = 0; i < a.length; i++)
      if (!Number.isFinite(a[i]!)) throw new FileFormatError(`${tensorsPath}: tensor "${name}" holds ${a[i]} at index ${i}; this checkpoint cannot be resumed from`);
    return a;
  };
  const params: TrainerState['adam']['params'] = {};
  for (const [name, step] of Object.entries(json.adam.steps)) params[name] = { step, m: f32(`adam.${name}.m`), v: f32(`adam.${name}.v`) };
  return {
    saeId: json.saeId,
    weights: new SaeParamArrays(
      Object.fromEntries(st.names().filter((n) => n.startsWith('sae.')).map((n) => [n.slice(4), f32(n)])),
      json.saeState ?? {},
    ),
    tokens: json.tokens,
    normScalingFactor: json.normScalingFactor ?? undefined,
    ...(json.targetNormScalingFactor != null ? { targetNormScalingFactor: json.targetNormScalingFactor } : {}),
    data: json.data ?? {},
    trainerState: {
      step: json.step,
      finetuning: json.finetuning,
      nFracActiveTokens: json.nFracActiveTokens,
      adam: { beta1: json.adam.beta1, beta2: json.adam.beta2, eps: json.adam.eps, params },
      stepsSinceFired: f32('steps_since_fired'),
      actFreqScores: f32('act_freq_scores'),
    },
  };
}
