/**
 * The tfjs backend for commands that compute: chosen once (selectBackend, SAE_RX_BACKEND
 * honoured). One short info line says which; the full reasoning (skipped backends, matMul
 * kernel) only with --debug.
 */
import { selectBackend } from '../backend/selectBackend.js';
import type { CliContext } from './context.js';
import { stage } from './errors.js';

export async function cliBackend(ctx: CliContext): Promise<void> {
  let full = '';
  const choice = await stage('selecting the backend', () => selectBackend({ log: (l) => (full = l) }));
  if (ctx.flags.debug) ctx.info(full);
  else ctx.info(`sae-rx: tfjs backend '${choice.name}'`);
}
