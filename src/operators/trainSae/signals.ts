/**
 * SIGINT/SIGTERM for a training subscription (DESIGN.md §3.5): `handler` runs once on the
 * first of them; `remove` takes the listeners off again (idempotent).
 */
export function onInterrupt(handler: (sig: NodeJS.Signals) => void): { remove: () => void } {
  let fired = false;
  const listener = (sig: NodeJS.Signals) => {
    if (fired) return;
    fired = true;
    handler(sig);
  };
  process.on('SIGINT', listener);
  process.on('SIGTERM', listener);
  return {
    remove: () => {
      process.off('SIGINT', listener);
      process.off('SIGTERM', listener);
    },
  };
}
