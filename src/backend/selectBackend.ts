import * as tf from '@tensorflow/tfjs-core';
import { BackendError } from '../errors.js';
import { checkTfGradients, matMulKernelState, registerSaeKernels, type MatMulKernelState } from './register.js';

/** Backends in the order sae-rx prefers them (DESIGN.md §4). */
export const BACKEND_PREFERENCE = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_PREFERENCE)[number];

/** What was chosen, and why each better backend was not. */
export interface BackendChoice {
  readonly name: BackendName;
  /** The tfjs backend name actually active (`tensorflow` for both native packages). */
  readonly tfBackend: string;
  readonly skipped: ReadonlyArray<{ readonly name: BackendName; readonly reason: string }>;
}

const PACKAGE_OF: Record<BackendName, string> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs-backend-cpu',
};

async function load(name: BackendName): Promise<string> {
  switch (name) {
    case 'tensorflow-gpu':
    case 'tensorflow':
      // The native packages are optional dependencies; where their install script could not
      // download libtensorflow the import fails, and we fall through to wasm.
      await import(PACKAGE_OF[name]);
      return 'tensorflow';
    case 'wasm':
      await import('@tensorflow/tfjs-backend-wasm');
      return 'wasm';
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      return 'cpu';
  }
}

let chosen: Promise<BackendChoice> | undefined;
let chosenChoice: BackendChoice | undefined;

/**
 * Chooses the tfjs backend once per process: `SAE_RX_BACKEND` if set (one of
 * tensorflow-gpu, tensorflow, wasm, cpu), else the first of BACKEND_PREFERENCE that loads.
 * Later calls return the same choice. `log` receives one line saying what was chosen and why.
 */
export function selectBackend(
  opts: { prefer?: string; log?: (line: string) => void } = {},
): Promise<BackendChoice> {
  chosen ??= choose(opts.prefer ?? process.env['SAE_RX_BACKEND'], opts.log ?? ((l) => console.error(l))).catch((e) => {
    chosen = undefined; // a later call may try again
    throw e;
  });
  return chosen;
}

async function choose(prefer: string | undefined, log: (line: string) => void): Promise<BackendChoice> {
  let order: BackendName[] = [...BACKEND_PREFERENCE];
  if (prefer !== undefined && prefer !== '') {
    if (!(BACKEND_PREFERENCE as readonly string[]).includes(prefer)) {
      throw new BackendError(
        `SAE_RX_BACKEND: '${prefer}' is not a backend; expected one of ${BACKEND_PREFERENCE.join(', ')}`,
      );
    }
    order = [prefer as BackendName];
  }
  // Gradients are backend-independent; without them no SAE can train (see register.ts).
  checkTfGradients();
  const skipped: Array<{ name: BackendName; reason: string }> = [];
  for (const name of order) {
    try {
      const tfBackend = await load(name);
      if (!(await tf.setBackend(tfBackend))) throw new Error(`tf.setBackend('${tfBackend}') returned false`);
      await tf.ready();
      const choice: BackendChoice = { name, tfBackend, skipped };
      const kernels = registerSaeKernels(tfBackend);
      chosenChoice = choice;
      const why = skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
      log(
        `sae-rx: tfjs backend '${name}'${prefer ? ' (SAE_RX_BACKEND)' : ''}${why ? ` — skipped ${why}` : ''}` +
          `; matMul kernel: ${kernels.matMul} (${kernels.reason})`,
      );
      return choice;
    } catch (e) {
      const reason = (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 200);
      skipped.push({ name, reason: `${PACKAGE_OF[name]} unavailable (${reason})` });
    }
  }
  chosen = undefined;
  throw new BackendError(`no tfjs backend could start: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}

/** The active backend and the matMul kernels it runs (see register.ts). */
export interface BackendInfo {
  /** tfjs's active backend name (`tf.getBackend()`). */
  readonly backend: string;
  /** What selectBackend() chose, if it ran. */
  readonly choice?: BackendChoice;
  readonly kernels: MatMulKernelState | undefined;
  /** For wasm: whether the SIMD and multi-threaded binaries are in use. */
  readonly wasm?: { readonly simd: boolean; readonly threads: boolean };
}

function flag(name: string): boolean {
  try {
    return Boolean(tf.env().get(name));
  } catch {
    return false; // async flag never evaluated: the wasm backend did not start
  }
}

/** Reports the active backend and which matMul kernel (stock / BLAS, threads) it uses. */
export function backendInfo(): BackendInfo {
  const backend = tf.getBackend();
  return {
    backend,
    ...(chosenChoice ? { choice: chosenChoice } : {}),
    kernels: matMulKernelState(backend),
    ...(backend === 'wasm'
      ? { wasm: { simd: flag('WASM_HAS_SIMD_SUPPORT'), threads: flag('WASM_HAS_MULTITHREAD_SUPPORT') } }
      : {}),
  };
}
