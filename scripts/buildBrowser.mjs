#!/usr/bin/env node
/**
 * The browser build (`npm run build:browser`): bundles src/browser.ts with esbuild into one ESM
 * file, dist-browser/sae-rx.js (+ the wasm backend's binaries beside it), for a page to import.
 *
 * The platform boundary: modules with a browser twin are swapped for it (BROWSER_TWINS below:
 * src/platform/node.ts, whose process/fs/addon access a page cannot have, and the operators'
 * folder I/O, src/operators/folderIo.ts). Everything else is the same source as on Node.
 *
 * `buildBrowser()` returns the esbuild metafile and `nodeLeaks`: every import of a Node built-in
 * (node:*, fs, path, …) or of a native addon (.node) that survived into the bundle, with the
 * chain of imports from the entry that reached it. The CLI exits 1 when there is one;
 * test/browser/bundle.test.ts runs the same check in `npm test`.
 *
 *   node scripts/buildBrowser.mjs [--outdir DIR] [--entry FILE] [--no-minify] [--metafile FILE]
 */
import { builtinModules } from 'node:module';
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Module → its browser twin (paths relative to the package root). */
export const BROWSER_TWINS = {
  'src/platform/node.ts': 'src/platform/browser.ts',
  'src/operators/folderIo.ts': 'src/operators/folderIo.browser.ts',
};

const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const isBuiltin = (p) => BUILTINS.has(p) || p.startsWith('node:');

/** Swaps each module of BROWSER_TWINS for its twin; marks Node built-ins a page cannot resolve as external so the check can name them. */
function platformPlugin() {
  const twins = new Map(Object.entries(BROWSER_TWINS).map(([a, b]) => [resolve(ROOT, a), resolve(ROOT, b)]));
  return {
    name: 'sae-rx-platform',
    setup(build) {
      build.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData?.inner) return undefined;
        if (isBuiltin(args.path)) {
          // A package's `browser` field may map the built-in to nothing (tfjs, the wasm
          // backend's emscripten glue): then it is not in the bundle. Otherwise it is a leak.
          const r = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: { inner: true } });
          if (r.errors.length === 0 && !r.external) return undefined; // esbuild's own resolution: an empty module
          return { path: args.path, external: true };
        }
        if (args.path.endsWith('.node')) return { path: args.path, external: true };
        if (!args.path.startsWith('.')) return undefined;
        const r = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: { inner: true } });
        const twin = twins.get(r.path);
        return twin ? { path: twin } : r.errors.length ? undefined : r;
      });
    },
  };
}

/** Node built-ins and native addons imported by bundled modules, each with its import chain from the entry. */
export function findNodeLeaks(metafile) {
  const inputs = metafile.inputs;
  const importedBy = new Map();
  for (const [file, info] of Object.entries(inputs)) {
    for (const imp of info.imports) if (!importedBy.has(imp.path)) importedBy.set(imp.path, file);
  }
  const chain = (file) => {
    const out = [file];
    const seen = new Set(out);
    for (let f = importedBy.get(file); f && !seen.has(f); f = importedBy.get(f)) {
      out.unshift(f);
      seen.add(f);
    }
    return out;
  };
  const leaks = [];
  for (const [file, info] of Object.entries(inputs)) {
    for (const imp of info.imports) {
      if (imp.external && (isBuiltin(imp.path) || imp.path.endsWith('.node'))) leaks.push({ module: imp.path, importer: file, chain: chain(file) });
    }
  }
  // The Node side of the boundary must not be in the bundle at all, whatever it imports.
  for (const nodeSide of Object.keys(BROWSER_TWINS)) {
    if (inputs[nodeSide]) leaks.push({ module: nodeSide, importer: importedBy.get(nodeSide) ?? '?', chain: chain(nodeSide) });
  }
  return leaks;
}

/**
 * Builds the bundle. Returns { outfile, bytes, metafile, nodeLeaks }. `write: false` keeps it
 * in memory (the test).
 */
export async function buildBrowser({ entry = 'src/browser.ts', outdir = join(ROOT, 'dist-browser'), minify = true, write = true } = {}) {
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: { 'sae-rx': entry },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outdir,
    minify,
    sourcemap: write ? 'linked' : false,
    metafile: true,
    write,
    logLevel: 'silent',
    legalComments: 'none',
    plugins: [platformPlugin()],
  });
  const [outfile, out] = Object.entries(result.metafile.outputs).find(([f]) => f.endsWith('.js'));
  if (write) {
    // The wasm backend fetches its binaries next to the bundle (src/platform/browser.ts).
    const wasmDir = join(ROOT, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
    mkdirSync(outdir, { recursive: true });
    for (const f of readdirSync(wasmDir)) if (f.endsWith('.wasm')) copyFileSync(join(wasmDir, f), join(outdir, f));
  }
  return { outfile: resolve(ROOT, outfile), bytes: out.bytes, metafile: result.metafile, nodeLeaks: findNodeLeaks(result.metafile) };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const { outfile, bytes, metafile, nodeLeaks } = await buildBrowser({
    entry: opt('--entry'),
    outdir: opt('--outdir') ? resolve(opt('--outdir')) : undefined,
    minify: !args.includes('--no-minify'),
  });
  if (opt('--metafile')) writeFileSync(opt('--metafile'), JSON.stringify(metafile));
  for (const l of nodeLeaks) console.error(`browser bundle: ${l.module} reaches the bundle: ${l.chain.join(' -> ')} -> ${l.module}`);
  console.log(`build:browser: ${relative(process.cwd(), outfile)} ${(bytes / 1024).toFixed(0)} KiB${nodeLeaks.length ? `, ${nodeLeaks.length} Node import(s): FAILED` : ''}`);
  process.exit(nodeLeaks.length ? 1 : 0);
}
