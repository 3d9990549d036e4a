/**
 * The page's tfjs backend, chosen once by sae-rx's `selectBackend`: `?backend=NAME` asks for one
 * (an error on the page if it cannot start, never a silent fallback); without it the first of
 * webgpu › webgl › wasm › cpu that starts.
 */
import { selectBackend } from './saeRx.js';

export async function chooseBackend(requested: string | null): Promise<{ name: string; skipped: string }> {
  const choice = await selectBackend(requested ? { prefer: requested } : {});
  return { name: choice.name, skipped: choice.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ') };
}
