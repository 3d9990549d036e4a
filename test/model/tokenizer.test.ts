import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { getEncoding } from 'js-tiktoken';
import { HfTokenizer, Llama2cTokenizer, loadTokenizer } from '../../src/model/tokenizer.js';
import { byteLevelBpe, byteLevelPiecesApply } from '../../src/model/byteLevelPieces.js';
import { Rng } from '../../src/stream/rng.js';

const GPT2 = path.resolve('../shared/models/tiny-gpt2-sotu');
const STORIES = path.resolve('../shared/models/stories260k');
const DATA = path.resolve('../shared/data');
const HAVE = fs.existsSync(path.join(GPT2, 'tokenizer.json')) && fs.existsSync(path.join(STORIES, 'tokenizer.bin'));
const t0 = HAVE ? test : test.skip;
if (!HAVE) console.log('skipping tokenizer tests: ../shared/models is absent');

t0('GPT-2 tokenizer.json ids equal js-tiktoken gpt2 on real text', (t) => {
  const tok = loadTokenizer(GPT2);
  t.true(tok instanceof HfTokenizer);
  t.is(tok.bosTokenId, 50256);
  t.is(tok.eosTokenId, 50256);
  t.false(tok.postProcessorAddsBos);
  const enc = getEncoding('gpt2');
  const austen = fs.readFileSync(path.join(DATA, 'austen.txt'), 'utf8');
  const shakes = fs.readFileSync(path.join(DATA, 'tinyshakespeare.txt'), 'utf8');
  const texts = [
    austen.slice(100_000, 103_000),
    shakes.slice(5_000, 8_000),
    "The budget for 2024 was $4.5 trillion; however, \"the deficit\" grew by 12%.\n\nWe'll   not fail — café 😀 naïve\t tabs",
  ];
  for (const text of texts) {
    const ours = tok.encode(text);
    t.deepEqual(ours, enc.encode(text));
    t.is(tok.decode(ours), text);
  }
  const ref = JSON.parse(fs.readFileSync(path.join(GPT2, 'reference.json'), 'utf8')) as { prompts: { text: string; tokens: number[] }[] };
  for (const p of ref.prompts) t.deepEqual(tok.encode(p.text), p.tokens);
});

t0('the piece memo (byteLevelPieces.ts) gives the library\'s ids: every line of the corpora, random cuts, edge cases', async (t) => {
  const { Tokenizer } = await import('@huggingface/tokenizers');
  const json = JSON.parse(fs.readFileSync(path.join(GPT2, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
  const tcfg = JSON.parse(fs.readFileSync(path.join(GPT2, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  t.true(byteLevelPiecesApply(json, tcfg));
  const lib = new Tokenizer(json, tcfg);
  const tok = loadTokenizer(GPT2);
  const check = (text: string) => {
    const want = lib.encode(text, { add_special_tokens: false }).ids;
    const got = tok.encode(text);
    if (got.length !== want.length || got.some((id, i) => id !== want[i])) t.fail(`differs on ${JSON.stringify(text.slice(0, 200))}`);
  };
  const corpora = ['austen.txt', 'tinyshakespeare.txt'].map((f) => fs.readFileSync(path.join(DATA, f), 'utf8'));
  let n = 0;
  for (const c of corpora) for (const line of c.split('\n').slice(0, 6000)) (check(line), n++);
  // cuts at random places: pieces that start or end mid-word, mid-space run, mid-surrogate pair
  const rng = new Rng(7);
  for (let k = 0; k < 3000; k++) {
    const c = corpora[k % 2]!;
    const a = Math.floor(rng.next() * (c.length - 400));
    check(c.slice(a, a + 1 + Math.floor(rng.next() * 400)));
    n++;
  }
  for (const text of [
    '', ' ', '  ', '\n', ' \n\n  x', 'a  b   c\t\td', "it's we'll they'RE 'sa", '   leading and trailing   ', '1234567 3.14159 ½ ٣',
    'café naïve e\u0301 😀👍🏽 中文字 한국어', '<|endoftext|>', 'a<|endoftext|>b c', 'ends with <|endoftext', '\u00a0nbsp\u2009thin', 'x'.repeat(300), '!'.repeat(100) + ' ?',
  ]) (check(text), n++);
  t.log(`${n} texts identical`);
  t.is(tok.encode('a<|endoftext|>b').filter((id) => id === 50256).length, 1);
  // the memo is off where its argument does not hold
  t.false(byteLevelPiecesApply({ ...json, normalizer: { type: 'NFC' } }, tcfg));
  t.false(byteLevelPiecesApply({ ...json, pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true } }, tcfg));
  t.false(byteLevelPiecesApply({ ...json, pre_tokenizer: { type: 'Metaspace' } }, tcfg));
  t.false(byteLevelPiecesApply({ ...json, model: { ...(json['model'] as object), dropout: 0.1 } }, tcfg));
  t.false(byteLevelPiecesApply(json, { ...tcfg, do_lowercase_and_remove_accent: true }));
});

t0('byteLevelBpe merges every distinct piece of the corpora as the library does; where the model is more than plain BPE it steps aside', async (t) => {
  const { Tokenizer } = await import('@huggingface/tokenizers');
  const json = JSON.parse(fs.readFileSync(path.join(GPT2, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
  const tcfg = JSON.parse(fs.readFileSync(path.join(GPT2, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  const lib = new Tokenizer(json, tcfg);
  const model = json['model'] as Record<string, unknown>;
  const bpe = byteLevelBpe(model)!;
  t.truthy(bpe);
  // the same merges in the newer [a, b] form give the same function
  const pairs = byteLevelBpe({ ...model, merges: (model['merges'] as string[]).map((m) => m.split(' ')) })!;
  const pieces = new Set<string>();
  for (const f of ['austen.txt', 'tinyshakespeare.txt'])
    for (const m of fs.readFileSync(path.join(DATA, f), 'utf8').matchAll(/'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu)) pieces.add(m[0]);
  for (const p of ['café', ' naïve', '😀👍🏽', ' 中文字', '\u00a0', 'x'.repeat(300), ' ' + '!'.repeat(100), '\t\t\n ']) pieces.add(p);
  let bad = 0;
  for (const p of pieces) {
    const want = lib.encode(p, { add_special_tokens: false }).ids;
    for (const got of [bpe(p), pairs(p)])
      if (!got || got.length !== want.length || got.some((id, i) => id !== want[i])) if (bad++ < 5) t.fail(`differs on ${JSON.stringify(p)}: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
  }
  t.is(bad, 0);
  t.true(pieces.size > 20_000, `${pieces.size} distinct pieces`);
  t.log(`${pieces.size} distinct pieces merged as the library does`);
  // a symbol missing from the vocabulary: the library is asked instead
  const vocab = { ...(model['vocab'] as Record<string, number>) };
  delete vocab['a'];
  t.is(byteLevelBpe({ ...model, vocab })!('a'), undefined);
  for (const change of [{ byte_fallback: true }, { ignore_merges: true }, { end_of_word_suffix: '</w>' }, { continuing_subword_prefix: '##' }, { dropout: 0.1 }, { type: 'WordPiece' }, { merges: ['a b', 'a b'] }, { merges: ['a b c'] }])
    t.is(byteLevelBpe({ ...model, ...change }), undefined, JSON.stringify(change));
});

t0('prependBos puts BOS first exactly once', (t) => {
  const tok = loadTokenizer(GPT2);
  const plain = tok.encode('Hello world');
  t.deepEqual(tok.encode('Hello world', { prependBos: true }), [50256, ...plain]);
  t.deepEqual(tok.encode('Hello world', { prependBos: false }), plain);
  const llama = loadTokenizer(STORIES);
  const ids = llama.encode('Once upon a time', { prependBos: true });
  t.is(ids[0], 1);
  t.not(ids[1], 1);
});

t0('llama2.c tokenizer.bin encodes and decodes like run.c', (t) => {
  const tok = loadTokenizer(STORIES);
  t.true(tok instanceof Llama2cTokenizer);
  t.is(tok.vocabSize, 512);
  const file = fs.readFileSync(path.join(STORIES, 'expected_greedy.txt'), 'utf8');
  const lines = file.split('\n');
  const ids = lines.find((l) => l.startsWith('tokens:'))!.slice(7).trim().split(/\s+/).map(Number);
  const text = lines.slice(lines.indexOf('text:') + 1).join('\n');
  const decoded = tok.decode(ids);
  t.is(decoded.trimEnd(), text.trimEnd());
  // The reference sequences: encoding their text reproduces the tokens.
  const ref = JSON.parse(fs.readFileSync(path.join(STORIES, 'reference.json'), 'utf8')) as { prompts: { tokens: number[] }[] };
  const first = ref.prompts[0]!.tokens;
  t.is(first[0], 1);
  t.deepEqual(tok.encode(tok.decode(first), { prependBos: true }), first);
  // Byte fallback for a code point outside the vocabulary, and a round trip through it.
  const odd = tok.encode('Lily 😀');
  t.true(odd.some((id) => id >= 3 && id < 259));
  t.is(tok.decode([1, ...odd]), 'Lily 😀');
});

test('a tokenizer whose post-processor adds BOS still gets it exactly once', async (t) => {
  const { Tokenizer } = await import('@huggingface/tokenizers');
  const json = {
    version: '1.0',
    added_tokens: [
      { id: 0, content: '<s>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      { id: 1, content: '</s>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [0], tokens: ['<s>'] } },
    },
    decoder: null,
    model: { type: 'WordLevel', vocab: { '<s>': 0, '</s>': 1, hello: 2, world: 3, '[UNK]': 4 }, unk_token: '[UNK]' },
  };
  const cfg = { bos_token: '<s>', eos_token: '</s>' };
  const tok = new HfTokenizer(new Tokenizer(json, cfg), { bos: 0, eos: 1 });
  t.true(tok.postProcessorAddsBos);
  t.deepEqual(tok.encode('hello world'), [2, 3]);
  t.deepEqual(tok.encode('hello world', { prependBos: true }), [0, 2, 3]);
});

t0('decodeEach gives one string per token, special tokens included', (t) => {
  const tok = loadTokenizer(GPT2);
  const ids = tok.encode('Hello world', { prependBos: true });
  t.deepEqual(tok.decodeEach(ids), ['<|endoftext|>', 'Hello', ' world']);
  t.is(tok.decode(ids), 'Hello world');
  t.is(tok.decode(ids, { skipSpecialTokens: false }), '<|endoftext|>Hello world');
  const llama = loadTokenizer(STORIES);
  const l = llama.encode('Once upon', { prependBos: true });
  t.is(llama.decodeEach(l).join(''), '\n<s>\n Once upon');
});
