#!/usr/bin/env node
// Builds the optional OpenBLAS addon (build/Release/sae_rx_blas.node) with node-gyp.
// Run by the package's `install` script and by `npm run build:native`. It never fails the
// install: without OpenBLAS headers, a compiler or node-gyp it says why and exits 0, and
// sae-rx runs on the stock tfjs matMul kernel (backendInfo() reports which one is active).
//   --force   fail (exit 1) instead of skipping, for CI/debugging
//   SAE_RX_BLAS=0 skips the build.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force');
const say = (msg) => console.error(`sae-rx native: ${msg}`);
const skip = (why) => {
  say(`BLAS addon not built (${why}); the stock tfjs matMul kernel will be used.`);
  process.exit(force ? 1 : 0);
};

if (process.env.SAE_RX_BLAS === '0') skip('SAE_RX_BLAS=0');

// OpenBLAS: cblas.h and libopenblas where Debian/Ubuntu/Fedora/Homebrew put them.
const incDirs = ['/usr/include', '/usr/include/x86_64-linux-gnu', '/usr/include/aarch64-linux-gnu',
  '/usr/include/openblas', '/usr/local/include', '/opt/homebrew/opt/openblas/include'];
const libDirs = ['/usr/lib', '/usr/lib64', '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu',
  '/usr/local/lib', '/opt/homebrew/opt/openblas/lib'];
if (!incDirs.some((d) => existsSync(path.join(d, 'cblas.h')))) skip('no cblas.h: install libopenblas-dev');
if (!libDirs.some((d) => ['libopenblas.so', 'libopenblas.dylib'].some((f) => existsSync(path.join(d, f))))) {
  skip('no libopenblas: install libopenblas-dev');
}

let addonApi;
try {
  createRequire(path.join(root, 'package.json')).resolve('node-addon-api');
  addonApi = true;
} catch { addonApi = false; }
if (!addonApi) skip('node-addon-api is not installed');

// npm puts its bundled node-gyp in npm_config_node_gyp for lifecycle scripts; otherwise look
// for npm's copy beside this node.
const nodeBin = process.execPath;
const gypCandidates = [
  process.env.npm_config_node_gyp,
  path.join(path.dirname(nodeBin), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  path.join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
].filter((p) => p && existsSync(p));
if (gypCandidates.length === 0) skip('node-gyp not found (npm normally bundles it)');

// Node's own headers, when installed next to the binary (distro packages and the official
// tarballs both do), so that node-gyp does not try to download them (no network in CI).
const prefix = path.resolve(path.dirname(nodeBin), '..');
const args = [gypCandidates[0], 'rebuild', '--loglevel=warn'];
if (existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);

say(`building the OpenBLAS addon (${args.slice(1).join(' ')})`);
const r = spawnSync(nodeBin, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
if (r.status !== 0) skip(`node-gyp exited with ${r.status ?? r.signal}`);
const out = path.join(root, 'build', 'Release', 'sae_rx_blas.node');
if (!existsSync(out)) skip(`node-gyp did not produce ${out}`);
say(`built ${path.relative(root, out)}`);
