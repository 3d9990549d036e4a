import { platform } from '../../platform/index.js';

/**
 * SIGINT/SIGTERM for a training subscription (DESIGN.md §3.5): `handler` runs once on the
 * first of them; `remove` takes the listeners off again (idempotent).
 */
export function onInterrupt(handler: (sig: NodeJS.Signals) => void): { remove: () => void } {
  let fired = false;
  // Signals are the platform's (a page has none: nothing is registered there).
  const remove = platform.onInterrupt((sig) => {
    if (fired) return;
    fired = true;
    handler(sig as NodeJS.Signals);
  });
  return { remove };
}
