/**
 * What a checkpoint's `training_state.json` must satisfy before a run resumes from it. A state
 * that fails here would continue training from nonsense (a negative Adam step turns the bias
 * correction into NaN; a step past the run's end skips data that is not there), so it is an
 * error naming the file and the field, never a silently wrong SAE.
 */
import { FileFormatError } from '../errors.js';

/** The JSON half of a checkpoint's training state, as `writeCheckpoint` writes it. */
export interface TrainingStateJson {
  saeId: string;
  step: number;
  finetuning: boolean;
  nFracActiveTokens: number;
  tokens: number;
  normScalingFactor: number | null;
  /** Transcoders: the target's norm-scaling factor (absent: none). */
  targetNormScalingFactor?: number | null;
  /** The architecture's float64 state (BatchTopK's topk_threshold), by name. */
  saeState?: Record<string, number>;
  adam: { beta1: number; beta2: number; eps: number; steps: Record<string, number> };
  data: Record<string, number>;
}

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;

/**
 * Checks a parsed `training_state.json` (from `file`); returns it typed, or throws a
 * FileFormatError naming the field. `folderTokens`: the token count the checkpoint folder's
 * name says (`<tokens>` or `final_<tokens>`), which must be the tokens it holds.
 */
export function validateTrainingState(raw: unknown, file: string, folderTokens?: number): TrainingStateJson {
  const bad = (field: string, why: string): never => {
    throw new FileFormatError(`${file}: ${field} ${why}; this checkpoint cannot be resumed from`);
  };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return bad('the training state', 'is not a JSON object');
  const j = raw as Record<string, unknown>;
  if (!isCount(j['step'])) bad('step', `must be an integer ≥ 0, got ${JSON.stringify(j['step'])}`);
  if (!isCount(j['tokens'])) bad('tokens', `must be an integer ≥ 0, got ${JSON.stringify(j['tokens'])}`);
  const step = j['step'] as number;
  const tokens = j['tokens'] as number;
  if (folderTokens !== undefined && tokens !== folderTokens) bad('tokens', `is ${tokens}, but the folder name says ${folderTokens}`);
  if (typeof j['finetuning'] !== 'boolean') bad('finetuning', `must be true or false, got ${JSON.stringify(j['finetuning'])}`);
  if (typeof j['nFracActiveTokens'] !== 'number' || !Number.isFinite(j['nFracActiveTokens'])) bad('nFracActiveTokens', 'must be a finite number');
  for (const key of ['normScalingFactor', 'targetNormScalingFactor']) {
    const nsf = j[key];
    if (nsf !== null && nsf !== undefined && !(typeof nsf === 'number' && Number.isFinite(nsf) && nsf > 0))
      bad(key, `must be a positive number or null, got ${JSON.stringify(nsf)}`);
  }
  const adam = j['adam'] as Record<string, unknown> | undefined;
  if (!adam || typeof adam !== 'object') return bad('adam', 'is missing');
  for (const k of ['beta1', 'beta2', 'eps'] as const) {
    const v = adam[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) bad(`adam.${k}`, `must be a finite number ≥ 0, got ${JSON.stringify(v)}`);
  }
  const steps = adam['steps'];
  if (!steps || typeof steps !== 'object') return bad('adam.steps', 'is missing');
  for (const [name, s] of Object.entries(steps as Record<string, unknown>)) {
    if (!isCount(s)) bad(`adam.steps.${name}`, `must be an integer ≥ 0, got ${JSON.stringify(s)}`);
    if ((s as number) > step) bad(`adam.steps.${name}`, `is ${String(s)}, more than the ${step} steps trained`);
  }
  const saeState = j['saeState'] ?? {};
  if (typeof saeState !== 'object' || saeState === null || Array.isArray(saeState)) return bad('saeState', 'must be an object');
  for (const [k, v] of Object.entries(saeState as Record<string, unknown>))
    if (typeof v !== 'number' || !Number.isFinite(v)) bad(`saeState.${k}`, `must be a finite number, got ${JSON.stringify(v)}`);
  const data = j['data'] ?? {};
  if (typeof data !== 'object' || data === null) return bad('data', 'must be an object');
  for (const [k, v] of Object.entries(data as Record<string, unknown>))
    if (!isCount(v)) bad(`data.${k}`, `must be an integer ≥ 0, got ${JSON.stringify(v)}`);
  const consumed = (data as Record<string, number>)['batchesConsumed'];
  if (consumed !== undefined && consumed > step) bad('data.batchesConsumed', `is ${consumed}, more than the ${step} steps trained`);
  return { ...(j as unknown as TrainingStateJson), data: data as Record<string, number> };
}
