/**
 * POSIX path functions for a page, where paths only name things (checkpoint folders in
 * messages, files inside a loaded folder): join, basename, dirname, resolve against '/'.
 */
import type { PlatformPath } from './Platform.js';

function normalize(p: string): string {
  const abs = p.startsWith('/');
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!abs) out.push('..');
    } else out.push(seg);
  }
  const body = out.join('/');
  return abs ? `/${body}` : body || '.';
}

export const posixPath: PlatformPath = {
  join: (...parts) => normalize(parts.filter((p) => p !== '').join('/') || '.'),
  basename(p) {
    const trimmed = p.replace(/\/+$/, '');
    return trimmed.slice(trimmed.lastIndexOf('/') + 1);
  },
  dirname(p) {
    const trimmed = p.replace(/\/+$/, '');
    const i = trimmed.lastIndexOf('/');
    if (i < 0) return '.';
    return i === 0 ? '/' : trimmed.slice(0, i);
  },
  resolve(...parts) {
    let acc = '';
    for (const p of parts) acc = p.startsWith('/') ? p : acc ? `${acc}/${p}` : p;
    return normalize(acc.startsWith('/') ? acc : `/${acc}`);
  },
};
