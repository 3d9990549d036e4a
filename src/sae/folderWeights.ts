/**
 * `sae_weights.safetensors` of any SAELens generation, read into the parameters an architecture
 * declares (by SAELens state-dict name), as float32 whatever the stored dtype (F64, F32, F16,
 * BF16). What SAELens itself does on load, and where sae-rx is stricter:
 *
 * - `log_threshold` (JumpReLU checkpoints before SAELens 6.48) becomes `threshold = exp(·)`.
 * - `scaling_factor` / `finetuning_scaling_factor` (v1.5 always, 3.x–5.x when fine-tuned): kept
 *   where the architecture has the parameter; all ones is dropped elsewhere (SAELens 6
 *   `read_sae_components_from_disk`); anything else is folded into `W_dec` rows when the cfg
 *   says the SAE was fine-tuned (`(f ⊙ s) W_dec = f (diag(s) W_dec)`), an error when it does not.
 * - A missing tensor, an unexpected one (load_state_dict is strict) or a wrong shape is a
 *   FileFormatError naming the file and the tensor.
 */
import { FileFormatError } from '../errors.js';
import type { SafetensorsFile } from '../io/safetensors.js';
import type { SaeFolderCfg } from './folderCfg.js';

export interface FolderParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

const SCALE_NAMES = ['scaling_factor', 'finetuning_scaling_factor'];

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** Reads the weights `specs` declares from an open safetensors file (`file` names it in errors). */
export async function readFolderWeights(
  f: SafetensorsFile,
  file: string,
  cfg: SaeFolderCfg,
  specs: readonly FolderParamSpec[],
): Promise<Record<string, Float32Array>> {
  const want = new Map(specs.map((s) => [s.name, s.shape]));
  const names = f.names();
  const out: Record<string, Float32Array> = {};
  const read = async (stored: string, as: string): Promise<Float32Array> => {
    const shape = want.get(as)!;
    const got = f.info(stored).shape;
    if (!sameShape(got, shape)) {
      throw new FileFormatError(`${file}: tensor "${stored}" has shape [${got.join(', ')}], expected [${shape.join(', ')}] from cfg.json (architecture ${cfg.architecture}, d_in ${cfg.dIn}, d_sae ${cfg.dSae})`);
    }
    return f.readFloat32(stored);
  };
  let scale: { name: string; data: Float32Array } | null = null;
  for (const name of names) {
    if (SCALE_NAMES.includes(name)) {
      if (scale) throw new FileFormatError(`${file}: both "${scale.name}" and "${name}" are present; expected at most one`);
      const got = f.info(name).shape;
      if (!sameShape(got, [cfg.dSae])) throw new FileFormatError(`${file}: tensor "${name}" has shape [${got.join(', ')}], expected [${cfg.dSae}]`);
      scale = { name, data: await f.readFloat32(name) };
    } else if (name === 'log_threshold' && want.has('threshold') && !names.includes('threshold')) {
      const logT = await read(name, 'threshold');
      out['threshold'] = logT.map((v) => Math.exp(v));
    } else if (want.has(name)) {
      out[name] = await read(name, name);
    } else {
      throw new FileFormatError(
        `${file}: unexpected tensor "${name}" for architecture ${cfg.architecture} (expected ${specs.map((s) => s.name).join(', ')}); ` +
          'sae-rx will not load it without using it',
      );
    }
  }
  if (scale) applyScale(out, scale, file, cfg, want.has('scaling_factor'));
  for (const s of specs) {
    // SAEs saved without a fine-tuning scale (3.x–6.x) have scaling_factor ones, as SAELens
    if (!(s.name in out) && s.name === 'scaling_factor') out[s.name] = new Float32Array(cfg.dSae).fill(1);
    if (!(s.name in out)) {
      const hint = s.name === 'threshold' ? ' (nor "log_threshold")' : '';
      throw new FileFormatError(`${file}: missing tensor "${s.name}"${hint} for architecture ${cfg.architecture} (has ${names.join(', ')})`);
    }
  }
  return out;
}

function applyScale(
  out: Record<string, Float32Array>,
  scale: { name: string; data: Float32Array },
  file: string,
  cfg: SaeFolderCfg,
  hasParam: boolean,
): void {
  // v1.5 always saves and applies its scaling_factor
  if (cfg.generation === 'v1.5' && hasParam) {
    out['scaling_factor'] = scale.data;
    return;
  }
  if (scale.data.every((v) => v === 1)) return;
  if (!cfg.finetuningScalingFactor) {
    throw new FileFormatError(`${file}: "${scale.name}" is not all ones but cfg.json's finetuning_scaling_factor is not true; refusing to guess whether it applies`);
  }
  if (hasParam) {
    out['scaling_factor'] = scale.data;
    return;
  }
  const W = out['W_dec'];
  if (!W) throw new FileFormatError(`${file}: "${scale.name}" needs W_dec to fold into`);
  const folded = new Float32Array(W.length);
  const d = cfg.dIn;
  for (let i = 0; i < cfg.dSae; i++) for (let j = 0; j < d; j++) folded[i * d + j] = W[i * d + j]! * scale.data[i]!;
  out['W_dec'] = folded;
}
