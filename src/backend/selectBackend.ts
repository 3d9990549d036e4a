import * as tf from '@tensorflow/tfjs-core';
import { BackendError } from '../errors.js';
import { platform, type BackendName } from '../platform/index.js';
import { checkTfGradients, matMulKernelState, registerSaeKernels, type MatMulKernelState } from './register.js';

export type { BackendName } from '../platform/index.js';

/**
 * Backends in the order sae-rx prefers them on this platform (DESIGN.md §4): Node
 * tensorflow-gpu › tensorflow › wasm › cpu; a browser webgpu › webgl › wasm › cpu.
 */
export const BACKEND_PREFERENCE: readonly BackendName[] = platform.backends.map((b) => b.name);

/** What was chosen, and why each better backend was not. */
export interface BackendChoice {
  readonly name: BackendName;
  /** The tfjs backend name actually active (`tensorflow` for both native packages). */
  readonly tfBackend: string;
  readonly skipped: ReadonlyArray<{ readonly name: BackendName; readonly reason: string }>;
}

let chosen: Promise<BackendChoice> | undefined;
let chosenChoice: BackendChoice | undefined;

/**
 * Chooses the tfjs backend once per process (or page): `SAE_RX_BACKEND` (Node) or `prefer` if set
 * (one of BACKEND_PREFERENCE), else the first of BACKEND_PREFERENCE that loads, a GPU backend
 * emulated in software taken after wasm (softwareAfterWasm).
 * Later calls return the same choice. `log` receives one line saying what was chosen and why.
 */
export function selectBackend(
  opts: { prefer?: string; log?: (line: string) => void } = {},
): Promise<BackendChoice> {
  chosen ??= choose(opts.prefer ?? platform.env('SAE_RX_BACKEND'), opts.log ?? ((l) => platform.note(l))).catch((e) => {
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
  // with `prefer` the order is that one backend: nothing is moved, nothing probed
  order = await softwareAfterWasm(order, skipped);
  for (const name of order) {
    const loader = platform.backends.find((b) => b.name === name)!;
    try {
      const tfBackend = await loader.load();
      if (!(await tf.setBackend(tfBackend))) throw new Error(`tf.setBackend('${tfBackend}') returned false`);
      await tf.ready();
      // a software backend tried after wasm and chosen (wasm did not start) is no longer skipped
      const i = skipped.findIndex((x) => x.name === name);
      if (i >= 0) skipped.splice(i, 1);
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
      skipped.push({ name, reason: `${loader.package} unavailable (${reason})` });
    }
  }
  chosen = undefined;
  throw new BackendError(`no tfjs backend could start: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}

/**
 * A GPU backend the platform finds emulated in software (a page without a GPU: SwiftShader,
 * llvmpipe) moves behind wasm: measured in headless Chromium here, software webgpu and webgl ran
 * the SAE step 36× and 4× slower than wasm and the model forward 20–57× slower. It is still
 * tried before cpu, which it beats. Asked for by name (`prefer`), a backend is taken as it is.
 */
async function softwareAfterWasm(order: BackendName[], skipped: Array<{ name: BackendName; reason: string }>): Promise<BackendName[]> {
  const w = order.indexOf('wasm');
  if (w < 0) return order;
  const moved: BackendName[] = [];
  for (const name of order.slice(0, w)) {
    const loader = platform.backends.find((b) => b.name === name)!;
    let sw: string | undefined;
    try {
      sw = await loader.software?.();
    } catch {
      sw = undefined; // the probe failed: let loading the backend say what is wrong
    }
    if (sw === undefined) continue;
    moved.push(name);
    skipped.push({ name, reason: `${sw}; wasm is faster without a GPU (tried after it; ask for it with prefer: '${name}')` });
  }
  if (moved.length === 0) return order;
  const rest = order.filter((n) => !moved.includes(n));
  const at = rest.indexOf('wasm') + 1;
  return [...rest.slice(0, at), ...moved, ...rest.slice(at)];
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
