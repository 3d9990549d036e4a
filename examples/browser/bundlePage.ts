/**
 * Bundles the demo page's script (page/main.ts and the sae-rx browser build it imports) with
 * sae-rx's browser build (scripts/buildBrowser.mjs: the platform boundary's browser twins, and
 * the check that no Node built-in reaches the bundle), into memory: the script and the wasm
 * backend's binaries, which it fetches from beside itself.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error: a plain .mjs script without types
import { buildBrowser } from '../../scripts/buildBrowser.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export interface PageBundle {
  /** The page's script, served as /sae-rx.js. */
  readonly script: string;
  /** Bytes of the script. */
  readonly bytes: number;
  /** The wasm backend's binaries by file name, served beside the script. */
  readonly wasm: ReadonlyMap<string, Buffer>;
}

interface BuildResult {
  outfile: string;
  bytes: number;
  nodeLeaks: Array<{ module: string; chain: string[] }>;
}

export async function bundlePage(opts: { minify?: boolean } = {}): Promise<PageBundle> {
  const outdir = mkdtempSync(path.join(os.tmpdir(), 'sae-rx-demo-'));
  try {
    const r = (await buildBrowser({ entry: path.relative(path.join(HERE, '../..'), path.join(HERE, 'page', 'main.ts')), outdir, minify: opts.minify ?? true, write: true })) as BuildResult;
    if (r.nodeLeaks.length) {
      throw new Error(`the demo page's bundle reaches Node built-ins: ${r.nodeLeaks.map((l) => `${l.chain.join(' -> ')} -> ${l.module}`).join('; ')}`);
    }
    const wasm = new Map(readdirSync(outdir).filter((f) => f.endsWith('.wasm')).map((f) => [f, readFileSync(path.join(outdir, f))] as const));
    return { script: readFileSync(r.outfile, 'utf8'), bytes: r.bytes, wasm };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}
