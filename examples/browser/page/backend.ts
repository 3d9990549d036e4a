/**
 * The page's tfjs backend: `?backend=NAME` asks for one (an error on the page if it cannot
 * start, never a silent fallback); without it the first that starts of webgpu › webgl › wasm › cpu.
 */
import { tf } from './saeRx.js';

export const BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;

export async function chooseBackend(requested: string | null): Promise<string> {
  if (requested !== null && !(BACKENDS as readonly string[]).includes(requested)) {
    throw new Error(`?backend=${requested}: unknown backend; use one of ${BACKENDS.join(', ')}`);
  }
  const order = requested ? [requested] : BACKENDS.filter((b) => tf.findBackendFactory(b) !== null);
  for (const name of order) {
    if (tf.findBackendFactory(name) === null) throw new Error(`?backend=${name}: this build of the page has no '${name}' backend`);
    let ok = false;
    try {
      ok = await tf.setBackend(name);
    } catch {
      ok = false;
    }
    if (ok) {
      await tf.ready();
      return tf.getBackend();
    }
    if (requested) throw new Error(`?backend=${name}: the '${name}' backend did not start in this browser`);
  }
  throw new Error('no tfjs backend started');
}
