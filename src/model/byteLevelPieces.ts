/**
 * A memo in front of `@huggingface/tokenizers` for GPT-2-style tokenizers (no normalizer, a
 * ByteLevel pre-tokenizer with its regex, BPE): their encoding of a text is the concatenation of
 * the encodings of the regex's pieces, each piece encoded alone. Words repeat, so encoding each
 * distinct piece once (by the merge below) and reusing its ids encodes text ~11× faster than the
 * library (bench/tokenize.ts), whose own BPE cache still runs its pre-tokenizer, byte mapping
 * and LRU bookkeeping on every piece.
 *
 * Why a piece encoded alone gives the ids it gets in context: the library splits the text with
 * the regex below and applies BPE to each match separately, so no merge crosses a piece. A
 * match re-split alone is itself: the regex is tried at the same position with the same
 * alternatives in order; alone, the string ends where the match ended, so no alternative can
 * reach further, and the only look-ahead (`\s+(?!\S)`) can only succeed where, in context, the
 * plain `\s+` matched the same run. test/model/tokenizer.test.ts checks the equality on the
 * shared corpora and on random cuts of them.
 *
 * Anything that breaks the argument turns the memo off: a normalizer, another pre-tokenizer,
 * `add_prefix_space`, BPE dropout (random), tokenizer_config's `remove_space` or lower-casing;
 * a text containing an added token's text (the library splits those out first) is encoded by
 * the library directly.
 *
 * A piece the memo has not seen is merged here (`byteLevelBpe`), not by the library: the
 * library's per-call path (pre-tokenizer, post-processor, encoding object) cost ~30 µs a piece,
 * and a cache worker meets most of a corpus's distinct words in its first shards (every worker
 * again: with 2 workers that was the largest part of the packing time they duplicated). The
 * merge order is the library's: the pair of lowest merge rank, the leftmost of equals
 * (its queue's score is rank + position / length). Where the model is not plain BPE over the
 * byte alphabet (suffixes, byte fallback, `ignore_merges`) or a symbol is missing from the
 * vocabulary, the library encodes the piece as before.
 */

/** The ByteLevel pre-tokenizer's split (GPT-2's pattern, as `@huggingface/tokenizers` has it). */
const BYTE_LEVEL_PIECES = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Distinct pieces kept before the memo starts over (a bound on memory, ~10 MB at most). */
const MAX_PIECES = 1 << 17;
/** Longer pieces (runs of whitespace or symbols) are rare and not worth keeping. */
const MAX_PIECE_LENGTH = 64;

const obj = (u: unknown): Record<string, unknown> | undefined => (u !== null && typeof u === 'object' && !Array.isArray(u) ? (u as Record<string, unknown>) : undefined);

/** Whether tokenizer.json (and tokenizer_config) are of the kind the memo is exact for. */
export function byteLevelPiecesApply(json: Record<string, unknown>, tcfg: Record<string, unknown>): boolean {
  const pre = obj(json['pre_tokenizer']);
  const model = obj(json['model']);
  return (
    json['normalizer'] == null &&
    pre?.['type'] === 'ByteLevel' &&
    pre['add_prefix_space'] !== true &&
    pre['use_regex'] !== false &&
    model?.['type'] === 'BPE' &&
    model['dropout'] == null &&
    tcfg['remove_space'] !== true &&
    !tcfg['do_lowercase_and_remove_accent']
  );
}

/** GPT-2's map of bytes to printable characters (the ByteLevel pre-tokenizer's alphabet). */
function byteAlphabet(): string[] {
  const out: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    out[b] = String.fromCharCode(printable ? b : 256 + extra++);
  }
  return out;
}

/**
 * BPE of one piece, in the library's merge order, from tokenizer.json's `model` (vocab, merges);
 * undefined where the model is more than plain BPE over the byte alphabet. The function itself
 * gives undefined for a piece with a symbol outside the vocabulary (the caller asks the library).
 */
export function byteLevelBpe(model: Record<string, unknown>): ((piece: string) => number[] | undefined) | undefined {
  const vocabJson = obj(model['vocab']);
  const merges = model['merges'];
  if (
    model['type'] !== 'BPE' || !vocabJson || !Array.isArray(merges) ||
    model['dropout'] != null || model['byte_fallback'] === true || model['ignore_merges'] === true ||
    !!model['continuing_subword_prefix'] || !!model['continuing_subword_suffix'] || !!model['end_of_word_suffix']
  )
    return undefined;
  const vocab = new Map<string, number>();
  for (const k in vocabJson) {
    const v = vocabJson[k];
    if (typeof v === 'number') vocab.set(k, v);
  }
  // rank of the pair (a, b) under the key "a b" (merges are such strings, or [a, b] pairs);
  // a merge with another space, or a pair listed twice, is a malformed file: left to the library
  const ranks = new Map<string, number>();
  for (let r = 0; r < merges.length; r++) {
    const m = merges[r] as unknown;
    let key: string | undefined;
    if (typeof m === 'string') key = m;
    else if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') key = m[0] + ' ' + m[1];
    const sp = key === undefined ? -1 : key.indexOf(' ');
    if (key === undefined || sp <= 0 || sp === key.length - 1 || key.indexOf(' ', sp + 1) >= 0 || ranks.has(key)) return undefined;
    ranks.set(key, r);
  }
  const alphabet = byteAlphabet();
  const utf8 = new TextEncoder();
  return (piece: string): number[] | undefined => {
    const bytes = utf8.encode(piece);
    const syms: string[] = new Array(bytes.length);
    for (let k = 0; k < bytes.length; k++) syms[k] = alphabet[bytes[k]!]!;
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let k = 0; k + 1 < syms.length; k++) {
        const r = ranks.get(syms[k]! + ' ' + syms[k + 1]!);
        if (r !== undefined && r < bestRank) (bestRank = r), (best = k);
      }
      if (best < 0) break;
      syms.splice(best, 2, syms[best]! + syms[best + 1]!);
    }
    const ids: number[] = new Array(syms.length);
    for (let k = 0; k < syms.length; k++) {
      const id = vocab.get(syms[k]!);
      if (id === undefined) return undefined;
      ids[k] = id;
    }
    return ids;
  };
}

/**
 * An encoder of texts (ids, no special tokens added) built on `encode`, the library's own
 * encoding, applied to each distinct piece once (or `bpe`, this file's merge of one piece, where
 * it answers); `addedTokens` are the texts the library splits out before anything else (a text
 * holding one is encoded whole).
 */
export function byteLevelPieceEncoder(
  encode: (text: string) => number[],
  addedTokens: readonly string[],
  bpe?: (piece: string) => number[] | undefined,
): (text: string) => number[] {
  let memo = new Map<string, number[]>();
  return (text: string): number[] => {
    for (const a of addedTokens) if (text.includes(a)) return encode(text);
    const ids: number[] = [];
    for (const m of text.matchAll(BYTE_LEVEL_PIECES)) {
      const piece = m[0];
      let p = memo.get(piece);
      if (p === undefined) {
        p = bpe?.(piece) ?? encode(piece);
        if (piece.length <= MAX_PIECE_LENGTH) {
          if (memo.size >= MAX_PIECES) memo = new Map();
          memo.set(piece, p);
        }
      }
      for (const id of p) ids.push(id);
    }
    return ids;
  };
}
