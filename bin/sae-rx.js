#!/usr/bin/env node
// The `sae-rx` command. Runs the TypeScript entry (src/cli/main.ts) through tsx, a runtime
// dependency, so the command works from a fresh clone without a build step.
import { register } from 'tsx/esm/api';

// `sae-rx hooks DIR | head`: a closed pipe ends the output, not with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e && e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}

register();
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv.slice(2));
// Exit explicitly: a backend or an HTTP keep-alive agent may hold the event loop open after
// the work is done. Writes to stdout/stderr pipes and files are synchronous on exit paths.
process.exit(code);
