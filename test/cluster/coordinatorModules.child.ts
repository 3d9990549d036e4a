/**
 * Child process of coordinatorModules.test.ts: runs `sae-rx ARGS…` in this process (the CLI's
 * main, as bin/sae-rx.js does) and, once the coordinator says it submitted the run, prints which
 * CommonJS packages it loaded (tfjs is one) as one JSON line and exits. `--control` first
 * imports the architecture registry, to show that the check sees tfjs when it is there.
 */
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.js';

const argv = process.argv.slice(2);
if (argv[0] === '--control') {
  argv.shift();
  await import('../../src/sae/architectures/registry.js');
}
const loaded = () => Object.keys(createRequire(import.meta.url).cache);
let said = '';
const report = () => {
  const mods = loaded();
  process.stdout.write(JSON.stringify({ submitted: true, tfjs: mods.filter((m) => m.includes('@tensorflow')).length, commonJsModules: mods.length }) + '\n');
  process.exit(0);
};
const capture = (echo: boolean) =>
  new Writable({
    write(chunk, _enc, cb) {
      said += chunk.toString();
      if (echo) process.stderr.write(chunk);
      if (/submitted /.test(said)) report();
      cb();
    },
  });
setTimeout(() => {
  process.stderr.write('no "submitted" line within 60 s\n');
  process.exit(1);
}, 60_000).unref();
const code = await main(argv, { stdout: capture(false), stderr: capture(true), cwd: process.cwd(), env: process.env });
process.stderr.write(`main returned ${code} before submitting\n`);
process.exit(1);
