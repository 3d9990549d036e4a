/**
 * `npm run bench -- --filter tokenize`: encoding real text with the GPT-2 tokenizer, as the
 * packing of `sae-rx cache` and training from text does (line by line, no BOS), through
 * sae-rx's HfTokenizer (the piece memo of src/model/byteLevelPieces.ts) and through
 * `@huggingface/tokenizers` directly, alternating, each with a fresh tokenizer per round (the
 * memo starts empty). Tokens per second of one thread. Needs ../shared.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadTokenizer } from '../src/model/tokenizer.js';

const GPT2 = path.resolve('../shared/models/tiny-gpt2-sotu');
const TEXT = path.resolve('../shared/data/austen.txt');

export async function benchTokenize(o: { quick: boolean }): Promise<object[]> {
  if (!fs.existsSync(path.join(GPT2, 'tokenizer.json')) || !fs.existsSync(TEXT)) return [{ bench: 'tokenize', skipped: '../shared (tiny-gpt2-sotu, data/austen.txt) is absent' }];
  const lines = fs.readFileSync(TEXT, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const use = o.quick ? lines.slice(0, 5000) : lines;
  const chars = use.reduce((a, l) => a + l.length, 0);
  const json = JSON.parse(fs.readFileSync(path.join(GPT2, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
  const tcfg = JSON.parse(fs.readFileSync(path.join(GPT2, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  const paths: Record<string, () => (s: string) => number[]> = {
    'sae-rx (piece memo)': () => {
      const t = loadTokenizer(GPT2);
      return (s) => t.encode(s);
    },
    '@huggingface/tokenizers': () => {
      const t = new Tokenizer(json, tcfg);
      return (s) => t.encode(s, { add_special_tokens: false }).ids;
    },
  };
  const ms: Record<string, number[]> = {};
  let tokens = 0;
  for (let round = 0; round < (o.quick ? 1 : 3); round++) {
    for (const [name, make] of Object.entries(paths)) {
      const encode = make();
      const t0 = performance.now();
      let n = 0;
      for (const l of use) n += encode(l).length;
      (ms[name] ??= []).push(performance.now() - t0);
      tokens = n;
    }
  }
  return Object.entries(ms).map(([name, xs]) => {
    const best = Math.min(...xs);
    return { bench: 'tokenize', path: name, tokenizer: 'gpt2 (tiny-gpt2-sotu)', lines: use.length, chars, tokens, ms: xs.map((x) => Math.round(x)), tokensPerSecond: Math.round(tokens / (best / 1000)) };
  });
}
