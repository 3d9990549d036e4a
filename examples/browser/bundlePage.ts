/**
 * Bundles the demo page's script (page/main.ts and the sae-rx browser build it imports) into one
 * ES module in memory, with esbuild.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const HERE = path.dirname(fileURLToPath(import.meta.url));

// TEMPORARY until the browser build lands: Node built-ins reached by src/ become stub modules
// whose exports throw when called (names collected from esbuild's "No matching export" errors).
const stubNames = new Map<string, Set<string>>();
const nodeShim: esbuild.Plugin = {
  name: 'node-shim',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (a) => ({ path: a.path, namespace: 'node-shim' }));
    b.onLoad({ filter: /.*/, namespace: 'node-shim' }, (a) => {
      const names = [...(stubNames.get(a.path) ?? [])];
      const stub = `(() => '')`;
      return { contents: `const s = () => ${stub}();\nexport default new Proxy({}, { get: () => s });\n${names.map((n) => `export const ${n} = s;`).join('\n')}`, loader: 'js' };
    });
  },
};

export async function bundlePage(): Promise<string> {
  for (let i = 0; ; i++) {
    try {
      return await build();
    } catch (e) {
      const errs = (e as { errors?: Array<{ text: string }> }).errors ?? [];
      let added = false;
      for (const x of errs) {
        const m = /No matching export in "node-shim:([^"]+)" for import "([^"]+)"/.exec(x.text);
        if (m) {
          if (!stubNames.has(m[1]!)) stubNames.set(m[1]!, new Set());
          stubNames.get(m[1]!)!.add(m[2]!);
          added = true;
        }
      }
      if (!added || i > 5) throw e;
    }
  }
}

async function build(): Promise<string> {
  const r = await esbuild.build({
    entryPoints: [path.join(HERE, 'page', 'main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    minify: false,
    sourcemap: false,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
    plugins: [nodeShim],
    // TEMPORARY as the shim above
    banner: { js: 'globalThis.process ??= { env: {}, emitWarning: (m) => console.warn(String(m)), versions: {} };' },
  });
  return r.outputFiles[0]!.text;
}
